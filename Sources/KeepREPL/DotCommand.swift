import KeepLua
#if canImport(Glibc)
import Glibc
#endif

/// A line that starts with `.` and a letter: a REPL command, not Lua (a Lua
/// statement never starts so; `.5` is a number and stays Lua).
struct DotCommand: Equatable {
    var name: String
    var argument: String

    init(name: String, argument: String) {
        self.name = name
        self.argument = argument
    }

    init?(_ line: String) {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard trimmed.first == ".", let second = trimmed.dropFirst().first, second.isLetter else { return nil }
        let word = trimmed.dropFirst().prefix { !$0.isWhitespace }
        name = String(word)
        argument = String(trimmed.dropFirst(word.count + 1).drop(while: \.isWhitespace)).trimmingSuffix { $0.isWhitespace }
    }

    static let help = """
        Type Lua. Expressions print their values; locals stay defined on later lines;
        the last result is in _. Incomplete input continues on a ...> prompt.

        Sessions (your private, editable work):
          s = keep.sessions.create{title = "Q3 review", content = {dashboards = json.array()}}
              ({} alone is stored as an object; json.array() makes an empty array [])
          keep.sessions.list{}                  a page of your sessions, newest first
          keep.sessions.list{title_contains = "q3", sort_by = "title"}
          s = keep.sessions.get("Ab3_x9Kq2LmZ")   open one by its id
          s.title  s.version  s:data()           fields, and the content decoded
          s:update{title = "Q3 final"}  s:delete()
          for s in keep.sessions.each{} do print(s) end   every session, all pages
        Snapshots (immutable copies anyone with the id can open):
          snap = s:snapshot{title = "Q3 for the board"}   conflict if s changed since you read it
          keep.snapshots.list{}  keep.snapshots.get(id)  snap:to_session{title = "copy"}
          keep.visits.list{}                    snapshots you have opened
        Working copies (edit, autosave to a local journal, save with conflict handling):
          w = keep.workbench.open(s.id)
          w:edit(function(d) table.insert(d.dashboards, {name = "Revenue"}) end)   d: the content
          w.title = "Q3 final"                  the session's title (and w.description)
          w:diff()  w:save()                    what a save would change; save it
          w:save{on_conflict = "merge"}         resolve a conflict so for this save only
          w.has_changes  w.out_of_sync  keep.activity.state
          keep.workbench.recoverable()  keep.workbench.discard(entry)   unsaved copies
        A page shows its items; for the next, repeat the call with page_token = _.next_token added:
          keep.sessions.list{sort_by = "title", page_token = _.next_token}

        Commands:
          .help          this text
          .exit          leave (or Ctrl-D)
          .load FILE     run a Lua file here; its top-level locals stay defined
          .user [ID]     show or change the acting user (keep.user)
          .time          print how long each evaluation takes (again: stop)
          .policy        the policy set in force and its last reload error
          .edit          compose in $VISUAL or $EDITOR, starting from the last input; runs it on save
        Keys: Tab completes names, fields and methods; Up and Down walk the history;
        Ctrl-C stops running code or clears the line.
        More: docs/repl.md, docs/lua-api.md
        """
}

extension ReplSession {
    /// Carries out a dot-command.
    func perform(_ command: DotCommand) -> Next {
        switch command.name {
        case "help":
            write(DotCommand.help + "\n")
        case "exit", "quit":
            return .stop(0)
        case "load":
            guard !command.argument.isEmpty else { return usage(".load FILE") }
            return load(command.argument)
        case "user":
            guard !command.argument.isEmpty else {
                evaluateAndShow("keep.user", chunkName: "=.user", final: true, typed: false)
                return .proceed
            }
            do {
                write(try host.switchUser(command.argument) + "\n")
            } catch {
                report("\(error)")
            }
        case "time":
            guard command.argument.isEmpty else { return usage(".time") }
            timing.toggle()
            write("timing \(timing ? "on" : "off")\n")
        case "policy":
            guard command.argument.isEmpty else { return usage(".policy") }
            evaluateAndShow("keep.policy.status()", chunkName: "=.policy", final: true, typed: false)
        case "edit":
            guard command.argument.isEmpty else { return usage(".edit") }
            return edit()
        default:
            report("unknown command '.\(command.name)'; .help lists the commands")
        }
        return .proceed
    }

    private func usage(_ text: String) -> Next {
        report("usage: \(text)")
        return .proceed
    }

    /// `.edit`: the last input in `$VISUAL`/`$EDITOR` (else `vi`); what is saved
    /// runs and goes into the history.
    private func edit() -> Next {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        // mkstemps replaces the six X with a unique name and keeps the 4-byte ".lua" suffix.
        var template = Array("\(directory)/keep-edit-XXXXXX.lua".utf8CString)
        let descriptor = mkstemps(&template, 4)
        guard descriptor >= 0 else {
            report("cannot create a file to edit: \(String(cString: strerror(errno)))")
            return .proceed
        }
        let path = String(cString: template)
        defer { unlink(path) }
        var text = lastChunk.isEmpty ? "" : lastChunk + "\n"
        text.withUTF8 { bytes in _ = Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
        close(descriptor)
        let editor = [getenv("VISUAL"), getenv("EDITOR")].compactMap { $0.map { String(cString: $0) } }
            .first { !$0.isEmpty } ?? "vi"
        fflush(nil)
        let status = system("\(editor) '\(path)'")
        _ = LuaState.takeInterrupt()
        guard status == 0 else {
            report("the editor (\(editor)) failed; nothing was run")
            return .proceed
        }
        let edited: String
        do { edited = try Self.read(path) } catch {
            report("\(error)")
            return .proceed
        }
        let chunk = edited.trimmingSuffix { $0.isWhitespace }
        guard !chunk.allSatisfy(\.isWhitespace) else { return .proceed }
        showAndRemember(chunk)
        if case .failure(let failure) = evaluateAndShow(chunk, chunkName: "=stdin", final: true),
           failure.interrupted, !options.interactive {
            return .stop(130)
        }
        return .proceed
    }

    private func showAndRemember(_ chunk: String) {
        if options.interactive { write(chunk + "\n") }
        editor?.remember(chunk)
    }
}

extension String {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var text = self
        while let last = text.last, predicate(last) { text.removeLast() }
        return text
    }
}
