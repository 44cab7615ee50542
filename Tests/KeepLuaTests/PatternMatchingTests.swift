import CLua
import Testing
@testable import KeepLua

// Differential tests of Keep's bounded pattern matching
// (Sources/CLuaShim/bounded_match.c, installed by `keep_open_bounded_patterns`)
// against the stock string.find / match / gmatch / gsub of the system Lua 5.4
// (lstrlib.c, manual §6.4.1). Every case runs in a plain `luaL_newstate` with
// `luaL_openlibs` and in a `LuaState`; both must produce the same serialized
// results, or the same error message once its `chunk:line:` prefix is removed.

/// One Lua chunk body (it may `return` values) and whether stock Lua raises an
/// error for it (checked, so that a typo cannot turn an error case into a no-op).
struct PatternCase: Sendable, CustomTestStringConvertible {
    let code: String
    let raisesError: Bool
    var testDescription: String { code }
}

/// What a case produced: `ok` and its results serialized, or `error` and the
/// message without its location prefix (`fatal` when the harness itself failed).
struct PatternOutcome: Equatable, CustomStringConvertible {
    let kind: String
    let text: String
    var description: String { "\(kind): \(text)" }
}

// MARK: - The harness chunk

/// Helpers prepended to every case. Nothing here uses string.find, match,
/// gmatch or gsub, so the serialization is the same in both states.
/// - `ser(v)`: a type-tagged text form; strings are quoted with every byte that
///   is not printable ASCII written as `\ddd`; tables (tuples from
///   `table.pack` or lists) are serialized element by element.
/// - `collect(iter)`: all iterations of a gmatch iterator, each as a tuple.
/// - `allbytes`: the 256 bytes 0…255 in order.
private let prelude = #"""
    local function esc(s)
      local out = {}
      for i = 1, #s do
        local b = string.byte(s, i)
        if b >= 32 and b < 127 and b ~= 92 and b ~= 34 then
          out[#out + 1] = string.char(b)
        else
          out[#out + 1] = string.format("\\%03d", b)
        end
      end
      return table.concat(out)
    end
    local ser
    function ser(v)
      local t = type(v)
      if t == "string" then
        return '"' .. esc(v) .. '"'
      elseif t == "number" then
        if math.type(v) == "integer" then return "int:" .. tostring(v) end
        return "float:" .. string.format("%.17g", v)
      elseif t == "table" then
        local parts = {}
        for i = 1, (v.n or #v) do parts[i] = ser(v[i]) end
        return "{" .. table.concat(parts, ", ") .. "}"
      elseif t == "nil" or t == "boolean" then
        return tostring(v)
      end
      return t
    end
    local function collect(iter)
      local list = {}
      while true do
        local t = table.pack(iter())
        if t.n == 0 or t[1] == nil then break end
        list[#list + 1] = t
        assert(#list <= 10000, "runaway iterator")
      end
      return list
    end
    local allbytes
    do
      local t = {}
      for i = 0, 255 do t[#t + 1] = string.char(i) end
      allbytes = table.concat(t)
    end
    local function finish(ok, ...)
      if ok then return "ok", ser(table.pack(...)) end
      return "error", esc(tostring((...)))
    end

    """#

private func chunk(_ body: String) -> String {
    prelude + "return finish(pcall(function()\n" + body + "\nend))\n"
}

/// Removes a leading `chunkname:line: ` from an error message.
private func withoutLocation(_ message: String) -> String {
    guard let colon = message.firstIndex(of: ":") else { return message }
    let afterColon = message.index(after: colon)
    let digits = message[afterColon...].prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty else { return message }
    let rest = message[digits.endIndex...]
    guard rest.hasPrefix(": ") else { return message }
    return String(rest.dropFirst(2))
}

private func outcome(kind: String, text: String) -> PatternOutcome {
    PatternOutcome(kind: kind, text: kind == "error" ? withoutLocation(text) : text)
}

/// Runs a case in a stock Lua state (the reference).
private func stockOutcome(_ body: String) -> PatternOutcome {
    guard let L = luaL_newstate() else { return PatternOutcome(kind: "fatal", text: "no state") }
    defer { lua_close(L) }
    luaL_openlibs(L)
    func string(at index: Int32) -> String {
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return "<\(lua_type(L, index))>" }
        return chars.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
    let source = Array(chunk(body).utf8)
    let status = source.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { chars in
            luaL_loadbufferx(L, chars.baseAddress, chars.count, "=t", "t")
        }
    }
    guard status == LUA_OK else { return PatternOutcome(kind: "fatal", text: string(at: -1)) }
    guard lua_pcallk(L, 0, 2, 0, 0, nil) == LUA_OK else {
        return PatternOutcome(kind: "fatal", text: string(at: -1))
    }
    return outcome(kind: string(at: -2), text: string(at: -1))
}

/// Runs a case in a Keep state, through the public API.
private func keepOutcome(_ body: String) -> PatternOutcome {
    do {
        let state = try LuaState()
        let values = try state.execute(chunk(body), chunkName: "=t")
        guard values.count == 2, let kind = values[0].text, let text = values[1].text else {
            return PatternOutcome(kind: "fatal", text: "unexpected results \(values)")
        }
        return outcome(kind: kind, text: text)
    } catch let error as LuaError {
        return PatternOutcome(kind: "fatal", text: error.message)
    } catch {
        return PatternOutcome(kind: "fatal", text: "\(error)")
    }
}

// MARK: - The corpus

private let findCases: [String] = [
    #"return string.find("hello world", "o w")"#,
    #"return ("hello world"):find("o")"#,
    #"return string.find("hello", "l+")"#,
    #"return ("hello"):find("xyz")"#,
    #"return ("aaab"):find("ab")"#,
    #"return ("hello"):find("")"#,
    #"return string.find("", "")"#,
    #"return string.find("", "a")"#,
    #"return (""):find(".*")"#,
    #"return (""):find("^$")"#,
    #"return (""):find("", 1, true)"#,
    #"return ("hello"):find("", 6)"#,
    #"return ("hello"):find("", 7)"#,
    #"return ("hello"):find("o", 100)"#,
    #"return ("hello"):find("l", -2)"#,
    #"return ("hello"):find("l", -100)"#,
    #"return ("hello"):find("h", 0)"#,
    #"return ("hello"):find("l", 4)"#,
    #"return ("abc"):find("a", math.mininteger)"#,
    #"return ("abc"):find("", math.maxinteger)"#,
    #"return string.find("abc", "b", 2.0)"#,
    #"return string.find(12345, 34)"#,
    #"return ("a.b.c"):find(".", 1, true)"#,
    #"return ("a.b.c"):find(".", 3, true)"#,
    #"return ("a.b.c"):find(".", -1, true)"#,
    #"return ("a+b"):find("+b", 1, true)"#,
    #"return ("a%b"):find("%", 1, true)"#,
    #"return ("a(b"):find("(", 1, true)"#,
    #"return ("a[b"):find("[", nil, true)"#,
    #"return ("abc"):find("b", 1, false)"#,
    #"return ("a.b"):find("a.b", 1, 1)"#,
    #"return ("xyz"):find("", 4, true)"#,
    #"return ("xyz"):find("xyzw", 1, true)"#,
    #"return string.find("hello world", "(o)(r)")"#,
    #"return ("hello"):find("()ll()")"#,
    #"return ("hello"):find("^h")"#,
    #"return ("hello"):find("^e")"#,
    #"return ("hello"):find("o$")"#,
    #"return ("hello"):find("l$")"#,
    #"return ("hello"):find("^hello$")"#,
    #"return ("a$b"):find("$b")"#,
    #"return ("xa$y"):find("a$y")"#,
    #"return ("x$"):find("$$")"#,
    #"return ("x"):find("$")"#,
    #"return ("hello"):find("^", 3)"#,
    #"return ("hello"):find("^l", 3)"#,
    #"return ("hello"):find("^l", 5)"#,
    #"return ("^a"):find("^^a")"#,
    #"return ("a^b"):find("a^b")"#,
    #"return ("hello"):find("%f[%w]")"#,
    #"return ("hello"):find("%f[%W]")"#,
    #"return ("hello world"):find("%f[%w]%w+", 2)"#,
    #"return (""):find("%f[%w]")"#,
    #"return (""):find("%f[%W]")"#,
    #"return ("a.b"):find("%.")"#,
    #"return ("x^"):find("%^")"#,
    #"return ("hello"):find("(l)%1")"#,
    #"return ("hello"):find("[aeiou]", 3)"#,
    #"return ("x)y"):find("x)")"#,
    #"return ("abc"):find("b", "2")"#,
    #"return ("a\0b.c"):find("\0b%.")"#,
    #"return ("a.\0b"):find(".\0", 1, true)"#,
    #"return ("\0x\0y"):find("%b\0\0")"#,
    #"return ("ab"):find("%f[\0]")"#,
    #"return ("\0a"):find("%f[%w]")"#,
    #"return (("a"):rep(1000) .. "b"):find(".-b")"#,
]

private let matchCases: [String] = [
    #"return string.match("hello 123 world", "%d+")"#,
    #"return string.match("key = value", "(%w+)%s*=%s*(%w+)")"#,
    #"return ("hello"):match("(h)(e)(l)(l)(o)")"#,
    #"return ("hello"):match("((l)(l))")"#,
    #"return ("hello"):match("(h(e(l)))")"#,
    #"return ("hello"):match("()")"#,
    #"return ("hello"):match("()", 6)"#,
    #"return ("hello"):match("()", 7)"#,
    #"return ("hello"):match("h()e()")"#,
    #"return ("hello"):match("()(h)()")"#,
    #"return ("hello"):match(".", -1)"#,
    #"return ("abc"):match("", 4)"#,
    #"return ("abc"):match("", 5)"#,
    #"return ("abc"):match("$", 4)"#,
    #"return ("  trim  "):match("^%s*(.-)%s*$")"#,
    #"return ("[[nested]]"):match("%[(.*)%]")"#,
    #"return ("2024-01-15"):match("(%d+)-(%d+)-(%d+)")"#,
    #"return ("abcabc"):match("(abc)%1")"#,
    #"return ("xyzxyzxyz"):match("^(x.z)%1%1$")"#,
    #"return ("abba"):match("(a)(b)%2%1")"#,
    #"return ("aXa"):match("(.).%1")"#,
    #"return ("a"):match("()%1")"#,
    #"return ('say "hi" now'):match("([\"'])(.-)%1")"#,
    #"return ("aaa"):match("()a*()")"#,
    #"return ("THE (quick) fox"):match("%((%a+)%)")"#,
    #"return ("f(a(b)c)d"):match("%b()")"#,
    #"return ("f(a(b)c"):match("%b()")"#,
    #"return ("x[[y]]z"):match("%b[]")"#,
    #"return ("<<a>"):match("%b<>")"#,
    #"return ("(("):match("%b()")"#,
    #"return ("()"):match("^%b()$")"#,
    #"return ("xx"):match("%bxx")"#,
    #"return ("(a)*"):match("%b()*")"#,
    #"return ("if a then if b then end end x"):match("%bie")"#,
    #"return ("a*"):match("(a)*")"#,
    #"return ("*a"):match("*a")"#,
    #"return ("aaa"):match("a*")"#,
    #"return ("aaa"):match("a-")"#,
    #"return ("aaa"):match("a-$")"#,
    #"return ("aaab"):match("a-b")"#,
    #"return ("b"):match("a?b")"#,
    #"return ("ab"):match("a?b")"#,
    #"return ("aab"):match("a?ab")"#,
    #"return ("aaa"):match("a+")"#,
    #"return ("bbb"):match("a+")"#,
    #"return ("<a><b>"):match("<(.-)>")"#,
    #"return ("<a><b>"):match("<(.*)>")"#,
    #"return ("abc"):match(".?.?.?.?")"#,
    #"return ("aaa"):match("^(a-)(a+)$")"#,
    #"return ("a+b"):match("a+%+b")"#,
    #"return ("abc"):match("%a-c")"#,
    #"return ("ab?"):match("b?%?")"#,
    #"return ("50%"):match("%d+%%")"#,
    #"return ("f(x)"):match("%((.-)%)")"#,
    #"return ("$5"):match("^%$(%d)")"#,
    #"return ("a@b"):match("%@(.)")"#,
    #"return ("abc"):match("[^a]+")"#,
    #"return ("a]"):match("[a]]")"#,
    #"return ("x"):rep(32):match(("(x)"):rep(32))"#,
    #"return ("x"):match(("()"):rep(32))"#,
    #"return ("x"):rep(150):match(("x?"):rep(150) .. "$")"#,
    #"return string.match(3.25, "%d+$")"#,
    #"return ("-a]"):match("[-a]+")"#,
    #"return ("--x"):match("--x")"#,
    #"return ("?a"):match("?a")"#,
    #"return ("aaab"):match("(a-)(a-)b")"#,
    #"return ("key=val;k2=v2"):match("(.-)=(.-);")"#,
    #"return ("xaybz"):match("(%a)b")"#,
]

private let gmatchCases: [String] = [
    #"return collect(("hello world from lua"):gmatch("%a+"))"#,
    #"return collect(string.gmatch("k1=v1, k2=v2", "(%w+)=(%w+)"))"#,
    #"return collect(("abc"):gmatch(""))"#,
    #"return collect(("abc"):gmatch("x*"))"#,
    #"return collect(("a,b,,c"):gmatch("([^,]*)"))"#,
    #"return collect(("abc"):gmatch("()"))"#,
    #"return collect(("hello"):gmatch("l*"))"#,
    #"return collect(("aaa"):gmatch("a-"))"#,
    #"return collect((""):gmatch(""))"#,
    #"return collect((""):gmatch("a"))"#,
    #"return collect(("hello world"):gmatch("%a+", 3))"#,
    #"return collect(("hello world"):gmatch("%a+", -5))"#,
    #"return collect(("hello"):gmatch(".", 0))"#,
    #"return collect(("abc"):gmatch(".", -10))"#,
    #"return collect(("hello"):gmatch(".", 10))"#,
    #"return collect(("hello"):gmatch("", 6))"#,
    #"return collect(("hello"):gmatch("", 7))"#,
    #"return collect(("^a^a"):gmatch("^a"))"#,
    #"return collect(string.gmatch("a1b2c3", "%a(%d)"))"#,
    #"return collect(("(a)(b(c))"):gmatch("%b()"))"#,
    #"return collect(("THE (quick) fox"):gmatch("%f[%a]%a+"))"#,
    #"return collect(("one two"):gmatch("%f[%w]()%w+()%f[%W]"))"#,
    #"return collect(("x\0y\0\0z"):gmatch("[^\0]+"))"#,
    #"return collect(("caf\195\169 na\195\175ve"):gmatch("[\128-\255]+"))"#,
    #"return collect(("abab"):gmatch("(a)(b)%1?"))"#,
    #"return collect(string.gmatch(123123, "12"))"#,
    """
    local co = coroutine.wrap(function()
      for w in ("a b c"):gmatch("%a") do coroutine.yield(w) end
    end)
    return co(), co(), co()
    """,
    """
    local t = {}
    for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do t[#t + 1] = k .. ":" .. v end
    return table.concat(t, ";")
    """,
    """
    local it = ("ab"):gmatch(".")
    local a, b, c, d = it(), it(), it(), it()
    return a, b, c, d
    """,
    """
    local it = ("a1b2"):gmatch("%d")
    local first = it()
    return first, collect(it)
    """,
]

private let gsubCases: [String] = [
    #"return ("hello world"):gsub("o", "0")"#,
    #"return string.gsub("hello world", "o", "0", 1)"#,
    #"return ("hello"):gsub("l", "L", 0)"#,
    #"return ("hello"):gsub("l", "L", -1)"#,
    #"return ("aaa"):gsub("a", "b", 2)"#,
    #"return ("aaa"):gsub("a", "b", 2.0)"#,
    #"return ("aaa"):gsub("a", "b", "2")"#,
    #"return ("aaa"):gsub("a", "b", math.maxinteger)"#,
    #"return ("hello"):gsub("", "-")"#,
    #"return ("hello"):gsub("x*", "-")"#,
    #"return ("abc"):gsub("%w", "%0%0")"#,
    #"return ("abc"):gsub("%w", "%%")"#,
    #"return ("abc"):gsub("%w", "100%%")"#,
    #"return ("abc"):gsub("(%w)", "%1-")"#,
    #"return ("hello world"):gsub("(%w+) (%w+)", "%2 %1")"#,
    #"return ("abc"):gsub("b", "[%1]")"#,
    #"return ("abc"):gsub("b", "[%0]")"#,
    #"return ("x=1, y=2"):gsub("(%w+)=(%w+)", "%2=%1")"#,
    #"return ("abcd"):gsub("(a)(b)(c)(d)", "%4%3%2%1%0")"#,
    #"return ("abcdefghi"):gsub("(a)(b)(c)(d)(e)(f)(g)(h)(i)", "%9%8%7%6%5%4%3%2%1")"#,
    #"return ("abcabc"):gsub("(a)(b)(c)%1%2%3", "<%0>")"#,
    #"return ("abc"):gsub("()", "%1")"#,
    #"return ("abc"):gsub("()b()", "[%1,%2]")"#,
    #"return ("abc"):gsub("(", "x")"#,
    #"return ("abc"):gsub("b", 5)"#,
    #"return ("abc"):gsub("b", 1.5)"#,
    #"return ("abc"):gsub("b", "")"#,
    #"return string.gsub(12321, 2, 0)"#,
    #"return ("$name is $age"):gsub("%$(%w+)", {name = "Lua", age = 30})"#,
    #"return ("$a $b"):gsub("%$(%w+)", {a = "1"})"#,
    #"return ("$a $b"):gsub("%$(%w+)", {a = false, b = "B"})"#,
    #"return ("a b"):gsub("%w", {a = "A"})"#,
    #"return ("abc"):gsub("()", {[1] = "one", [3] = 3.5})"#,
    #"return ("abc"):gsub("%w", {})"#,
    #"return ("hello"):gsub("l", function(c) return c:upper() end)"#,
    #"return ("hello"):gsub("l", function() return nil end)"#,
    #"return ("hello"):gsub("l", function() return false end)"#,
    #"return ("hello"):gsub("l", function() end)"#,
    #"return ("hello"):gsub("l", function() return 7 end)"#,
    #"return ("hello"):gsub("(h)(e)", function(a, b) return b .. a end)"#,
    #"return ("abc"):gsub("()(b)()", function(p, c, q) return p .. c .. q end)"#,
    #"return ("abc"):gsub("%w", function(c) return c == "b" and "B" end)"#,
    #"return ("abc"):gsub("%w", function(c) return (c:gsub(".", "%0%0")) end)"#,
    #"return ("a b"):gsub("%a", function(c) return ("x"):rep(3):match("()x$") end)"#,
    #"return ("abc"):gsub("^a", function() return false end)"#,
    #"return ("abc"):gsub("", "-", 2)"#,
    #"return ("abc"):gsub("b", 2^53)"#,
    """
    local seen = {}
    local r, n = ("a1b22c333"):gsub("%d+", function(d) seen[#seen + 1] = d; return #d end)
    return r, n, table.concat(seen, ",")
    """,
    """
    local calls = 0
    local r, n = ("aaaa"):gsub("a", function() calls = calls + 1; return "b" end, 2)
    return r, n, calls
    """,
    #"return ("aaa"):gsub("^a", "b")"#,
    #"return ("hello hello"):gsub("^hello", "bye")"#,
    #"return ("xhello"):gsub("^hello", "bye")"#,
    #"return ("aaa"):gsub("^", ">")"#,
    #"return ("abc"):gsub("^.-", "X")"#,
    #"return ("  x  "):gsub("^%s+", "")"#,
    #"return ("aaa"):gsub("^a*", function(s) return #s end)"#,
    #"return ("abc"):gsub("$", "!")"#,
    #"return ("a\nb"):gsub("$", "!")"#,
    #"return ("ab$c"):gsub("b$", "_")"#,
    #"return (""):gsub("", "x")"#,
    #"return (""):gsub("a*", "x")"#,
    #"return (""):gsub("a", "x")"#,
    #"return (""):gsub("^$", "empty")"#,
    #"return ("f(x) + g(y)"):gsub("%b()", "()")"#,
    #"return ("THE END"):gsub("%f[%W]", "|")"#,
    #"return ("hello world"):gsub("%f[%w]", "^")"#,
    #"return ("THE (quick) fox"):gsub("%f[%a]%a+", "W")"#,
    #"return ("a\0b\0c"):gsub("\0", "-")"#,
    #"return ("a\0b"):gsub("[\0]", "-")"#,
    #"return ("a\0b"):gsub(".", "%0%0")"#,
    #"return ("a\0b"):gsub("%c", "<ctl>")"#,
    #"return ("x\0y"):gsub("x\0", "[%0]")"#,
    #"return ("caf\195\169"):gsub("[\128-\255]+", "?")"#,
    #"return ("\233t\233"):gsub("%A", "_")"#,
    #"return ("\200\255a"):gsub("[\128-\255]", "?")"#,
    #"return ("\255"):gsub("[^\1-\127]", "hi")"#,
    #"return ("hello-world_42"):gsub("[a-f]", "*")"#,
    #"return ("HeLLo"):gsub("[A-Z]", "")"#,
    #"return ("a]b]c"):gsub("[]]", "!")"#,
    #"return ("a]b^c"):gsub("[]^]", "!")"#,
    #"return ("a]b"):gsub("[^]]", ".")"#,
    #"return ("a]b%c"):gsub("[%]%%]", "=")"#,
    #"return ("a-b-c"):gsub("[-]", "+")"#,
    #"return ("a-b-c"):gsub("[a-]", "+")"#,
    #"return ("a-z"):gsub("[z-a]", "+")"#,
    #"return ("0123456789abcdefABCDEFxyz"):gsub("[0-9a-fA-F]", "x")"#,
    #"return ("x^y"):gsub("[x^]", "_")"#,
    #"return ("a.b"):gsub("[.]", ",")"#,
    #"return ("abc-"):gsub("[%a-z]", "=")"#,
    #"return ("[x]"):gsub("[[]", "<")"#,
    #"return ("a1 b2_c3"):gsub("[%d_]", "")"#,
    #"return ("Hello, World! 42"):gsub("[^%s%p]", "")"#,
    #"return ("a-b"):gsub("%-", "+")"#,
]

/// Every character class and its complement, applied to all 256 bytes.
private let classCases: [String] = "acdglpsuwx".flatMap { letter -> [String] in
    let upper = letter.uppercased()
    return [
        "return collect(allbytes:gmatch(\"%\(letter)+\"))",
        "return allbytes:gsub(\"%\(upper)\", \"\")",
        "return allbytes:find(\"%\(letter)\", 100), allbytes:find(\"[%\(upper)]\", 50)",
    ]
}

/// The deprecated `%z` class (a NUL byte), still implemented by lstrlib.c in 5.4.
private let deprecatedClassCases: [String] = [
    #"return ("ab"):find("%f[%z]")"#,
    #"return ("a\0b"):find("%z")"#,
    #"return ("a\0b"):gsub("%Z", "-")"#,
    #"return collect(("x\0y\0\0z"):gmatch("[^%z]+"))"#,
]

/// Cases that raise an error in stock Lua.
private let errorCases: [String] = [
    #"return string.find("a", "%")"#,
    #"return ("a"):match("a%")"#,
    #"return ("a"):gsub("%", "")"#,
    #"return collect(("a"):gmatch("%"))"#,
    #"return string.find("abc", "[a")"#,
    #"return string.find("abc", "[]")"#,
    #"return ("abc"):find("[^]")"#,
    #"return ("abc"):match("[%")"#,
    #"return ("abc"):match("[a-")"#,
    #"return ("a]"):match("[a%]")"#,
    #"return coroutine.wrap(function() return ("abc"):gsub("b", function() coroutine.yield(1) end) end)()"#,
    #"return ("abc"):find("%b")"#,
    #"return ("abc"):find("%b(")"#,
    #"return ("abc"):gsub("%f", "")"#,
    #"return ("abc"):find("%fa")"#,
    #"return (""):find("%f")"#,
    #"return ("abc"):find("%f[a")"#,
    #"return ("abc"):find("%1")"#,
    #"return ("abc"):find("(a)%0")"#,
    #"return ("abc"):find("(a)%2")"#,
    #"return ("aa"):find("(a%1)")"#,
    #"return ("abc"):find("(a")"#,
    #"return ("abc"):match("(")"#,
    #"return ("abc"):gsub("(", "%1")"#,
    #"return ("abc"):gsub("(b", function(c) return c end)"#,
    #"return ("a\0b"):find("\0(")"#,
    #"return ("abc"):match("a)")"#,
    #"return ("abc"):match(")")"#,
    #"return collect(("abc"):gmatch("(()"))"#,
    #"return ("a"):match(("()"):rep(33))"#,
    #"return ("a"):rep(33):match(("(a)"):rep(33))"#,
    #"return ("a"):gsub(("()"):rep(33), "")"#,
    #"return ("x"):rep(300):match(("x?"):rep(300) .. ("x"):rep(300))"#,
    #"return ("abc"):gsub("b", "%x")"#,
    #"return ("abc"):gsub("b", "%")"#,
    #"return ("abc"):gsub("b", "x%")"#,
    #"return ("abc"):gsub("b", "%2")"#,
    #"return ("abc"):gsub("(b)", "%3")"#,
    #"return ("abc"):gsub("()", "%2")"#,
    #"return ("abc"):gsub("b", {b = {}})"#,
    #"return ("abc"):gsub(".", {a = 1, b = true})"#,
    #"return ("abc"):gsub("b", function() return {} end)"#,
    #"return ("abc"):gsub("b", function() return true end)"#,
    #"return ("abc"):gsub("b", function() error("boom") end)"#,
    #"return ("abc"):gsub("b")"#,
    #"return ("abc"):gsub("b", true)"#,
    #"return string.gsub("abc", "b", nil)"#,
    #"return ("abc"):gsub("b", "x", "y")"#,
    #"return ("abc"):gsub("%w", "%0", 1.5)"#,
    #"return string.gsub()"#,
    #"return string.find()"#,
    #"return string.find({}, "a")"#,
    #"return string.match("a", {})"#,
    #"return string.match("a", "a", "x")"#,
    #"return string.find("a", "a", 1.5)"#,
    #"return ("abc"):find(nil)"#,
    #"return string.gmatch(nil, "a")"#,
    #"return string.gmatch("a", "a", {})"#,
    #"return setmetatable({}, {__index = string}):find("a")"#,
    """
    local n = 0
    for k in ("abc"):gmatch("(") do n = n + 1 end
    return n
    """,
]

/// Cases whose values are error messages caught with a direct pcall (no location).
private let pcallCases: [String] = [
    #"return pcall(string.find)"#,
    #"return pcall(string.match, "x", "%")"#,
    #"return pcall(string.gsub, "x", "x", {x = {}})"#,
    #"return pcall(string.gmatch, "x")"#,
]

let patternCases: [PatternCase] =
    (findCases + matchCases + gmatchCases + gsubCases + classCases + deprecatedClassCases + pcallCases)
        .map { PatternCase(code: $0, raisesError: false) }
    + errorCases.map { PatternCase(code: $0, raisesError: true) }

// MARK: - Tests

@Suite struct PatternMatchingTests {
    @Test func corpusHasAtLeast150Cases() {
        #expect(patternCases.count >= 150)
        #expect(Set(patternCases.map(\.code)).count == patternCases.count, "duplicate cases")
    }

    @Test func serializerTagsTypes() {
        let outcome = stockOutcome(#"return 1, 1.0, "a\0\255", nil, false, {n = 2, "x"}"#)
        #expect(outcome == PatternOutcome(kind: "ok",
                                          text: #"{int:1, float:1, "a\000\255", nil, false, {"x", nil}}"#))
    }

    @Test(arguments: patternCases)
    func keepMatchesStockLua(_ testCase: PatternCase) {
        let stock = stockOutcome(testCase.code)
        let keep = keepOutcome(testCase.code)
        #expect(stock.kind == (testCase.raisesError ? "error" : "ok"),
                "stock Lua gave an unexpected outcome for:\n\(testCase.code)\nstock: \(stock)")
        #expect(keep == stock, "case:\n\(testCase.code)\nstock: \(stock)\nkeep:  \(keep)")
    }
}
