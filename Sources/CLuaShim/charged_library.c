// Charges C library calls to the budget before they run.
//
// Why: the count hook only sees Lua instructions. One call of string.rep,
// table.move, table.sort, utf8.len, collectgarbage… can do work in proportion
// to its arguments (string.rep("", math.maxinteger) loops 2^63 times without
// allocating), so each such call is first charged that work, in instruction
// units, and stopped with the budget error when the budget cannot pay.
#include "CLuaShim.h"

#include <stdint.h>
#include <time.h>

typedef enum Cost {
    COST_BYTES_ARG1,     // string functions: the length of the subject
    COST_BYTES_ALL,      // string.format, utf8.char: all string arguments
    COST_REP,            // string.rep(s, n, sep)
    COST_MOVE,           // table.move(a, f, e, t)
    COST_UNPACK,         // table.unpack(list, i, j): j - i + 1
    COST_CONCAT,         // table.concat(list, sep, i, j): j - i + 1, plus the separator's bytes
    COST_SLICE,          // string.byte/utf8.codepoint(s, i, j): one unit per byte of s[i..j]
    COST_FORMAT,         // string.pack/packsize/unpack: a unit per format byte, plus all strings' bytes
    COST_LENGTH,         // table.insert/remove: #t
    COST_SORT,           // table.sort: n log n
    COST_HEAP,           // collectgarbage: the heap
} Cost;

/// Bytes of work that cost one instruction unit.
#define BYTES_PER_UNIT 32

static int64_t saturating_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

static int64_t string_length(lua_State *L, int index) {
    return lua_type(L, index) == LUA_TSTRING ? (int64_t)lua_rawlen(L, index) : 0;
}

// #t as Lua sees it (may run __len: we are in C, under the caller's pcall).
static int64_t table_length(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TTABLE) return 0;
    lua_Integer n = luaL_len(L, index);
    return n > 0 ? (int64_t)n : 0;
}

// Argument `index` as an integer, or `fallback` when it is absent or not a number.
static lua_Integer integer_or(lua_State *L, int index, lua_Integer fallback) {
    int valid = 0;
    lua_Integer value = lua_type(L, index) == LUA_TNUMBER ? lua_tointegerx(L, index, &valid) : 0;
    return valid ? value : fallback;
}

// A string position as lstrlib reads it (negative counts from the end).
static int64_t position(lua_Integer at, int64_t length) {
    if (at >= 0) return at;
    if ((uint64_t)-at > (uint64_t)length) return 0;
    return length + at + 1;
}

static int64_t span(lua_Integer first, lua_Integer last) {
    if (last < first) return 0;
    uint64_t width = (uint64_t)last - (uint64_t)first;
    return width >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)width + 1;
}

static int64_t cost_of(lua_State *L, Cost cost) {
    switch (cost) {
    case COST_BYTES_ARG1:
        return string_length(L, 1) / BYTES_PER_UNIT;
    case COST_BYTES_ALL: {
        int64_t total = 0;
        for (int i = 1; i <= lua_gettop(L); i++) total = saturating_add(total, string_length(L, i));
        return total / BYTES_PER_UNIT + lua_gettop(L);
    }
    case COST_REP: {
        lua_Integer n = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, NULL) : 0;
        if (n <= 0) return 0;
        int64_t piece = string_length(L, 1) + string_length(L, 3);
        int64_t iterations = n / 8;  // even empty pieces loop n times
        int64_t bytes = piece > 0 && n > INT64_MAX / piece ? INT64_MAX : n * piece;
        return saturating_add(iterations, bytes / BYTES_PER_UNIT);
    }
    case COST_MOVE:
        return span(lua_tointegerx(L, 2, NULL), lua_tointegerx(L, 3, NULL));
    case COST_UNPACK:
        return span(integer_or(L, 2, 1), lua_isnoneornil(L, 3) ? (lua_Integer)table_length(L, 1) : integer_or(L, 3, 0));
    case COST_CONCAT: {
        lua_Integer first = integer_or(L, 3, 1);
        lua_Integer last = lua_isnoneornil(L, 4) ? (lua_Integer)table_length(L, 1) : integer_or(L, 4, 0);
        int64_t count = span(first, last);
        int64_t separator = string_length(L, 2);
        return saturating_add(count, separator > 0 && count > INT64_MAX / separator ? INT64_MAX
                                                                                    : count * separator / BYTES_PER_UNIT);
    }
    case COST_SLICE: {
        // The positions as string.byte reads them: i defaults to 1, j to i; negative count from the end.
        int64_t length = string_length(L, 1);
        int64_t first = position(integer_or(L, 2, 1), length);
        int64_t last = lua_isnoneornil(L, 3) ? first : position(integer_or(L, 3, 0), length);
        if (first < 1) first = 1;
        if (last > length) last = length;
        return last >= first ? last - first + 1 : 0;
    }
    case COST_FORMAT: {
        int64_t total = 0;
        for (int i = 1; i <= lua_gettop(L); i++) total = saturating_add(total, string_length(L, i));
        return saturating_add(string_length(L, 1), total / BYTES_PER_UNIT);
    }
    case COST_LENGTH:
        return table_length(L, 1);
    case COST_SORT: {
        int64_t n = table_length(L, 1);
        int64_t log = 1;
        while ((INT64_C(1) << log) < n && log < 62) log++;
        return n > INT64_MAX / log ? INT64_MAX : n * log;
    }
    case COST_HEAP: {
        void *ud = NULL;
        lua_getallocf(L, &ud);
        return (int64_t)(((KeepBudget *)ud)->memory_used / 256);
    }
    }
    return 0;
}

static int finish(lua_State *L, int status, lua_KContext base) {
    (void)status;
    return lua_gettop(L) - (int)base;
}

// upvalue 1: the original function; upvalue 2: its Cost.
static int charged_call(lua_State *L) {
    Cost cost = (Cost)lua_tointegerx(L, lua_upvalueindex(2), NULL);
    keep_budget_charge(L, saturating_add(cost_of(L, cost), 1));
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, finish);
    return finish(L, LUA_OK, 0);
}

// os.date formats its whole format string in one C call (strftime per
// conversion), so a huge format could run past the deadline inside that one
// call. Formats longer than a piece are formatted piece by piece (cut between
// conversions, each piece charged, the deadline checked before each), with
// one time for all pieces. upvalue 1: the original os.date.
#define DATE_PIECE 256

static int piecewise_date(lua_State *L) {
    size_t length = 0;
    const char *format = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &length) : NULL;
    if (format == NULL || length <= DATE_PIECE) {
        keep_budget_charge(L, (int64_t)length + 1);
        int n = lua_gettop(L);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, n, LUA_MULTRET);
        return lua_gettop(L);
    }
    int utc = format[0] == '!';
    lua_Integer when = lua_isnoneornil(L, 2) ? (lua_Integer)time(NULL) : luaL_checkinteger(L, 2);
    luaL_Buffer out;
    luaL_buffinit(L, &out);
    size_t at = (size_t)utc;
    while (at < length) {
        size_t end = at;
        while (end < length && end - at < DATE_PIECE) {
            if (format[end] == '%' && end + 1 < length) {
                end += (format[end + 1] == 'E' || format[end + 1] == 'O') && end + 2 < length ? 3 : 2;
            } else {
                end += 1;
            }
        }
        // A last piece of exactly "*t" would ask os.date for a table.
        if (length - end == 2 && format[end] == '*' && format[end + 1] == 't') end = length;
        keep_budget_charge(L, (int64_t)(end - at) + 1);
        lua_pushvalue(L, lua_upvalueindex(1));
        if (utc) {
            lua_pushliteral(L, "!");
            lua_pushlstring(L, format + at, end - at);
            lua_concat(L, 2);
        } else {
            lua_pushlstring(L, format + at, end - at);
        }
        lua_pushinteger(L, when);
        lua_call(L, 2, 1);
        luaL_addvalue(&out);
        at = end;
    }
    luaL_pushresult(&out);
    return 1;
}

static void keep_open_piecewise_date(lua_State *L) {
    lua_getglobal(L, LUA_OSLIBNAME);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "date");
        if (lua_isfunction(L, -1)) {
            lua_pushcclosure(L, piecewise_date, 1);
            lua_setfield(L, -2, "date");
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void wrap(lua_State *L, int table, const char *name, Cost cost) {
    lua_getfield(L, table, name);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushinteger(L, cost);
    lua_pushcclosure(L, charged_call, 2);
    lua_setfield(L, table, name);
}

void keep_open_charged_library(lua_State *L) {
    static const struct { const char *library, *name; Cost cost; } wrapped[] = {
        {LUA_STRLIBNAME, "rep", COST_REP},
        {LUA_STRLIBNAME, "upper", COST_BYTES_ARG1},
        {LUA_STRLIBNAME, "lower", COST_BYTES_ARG1},
        {LUA_STRLIBNAME, "reverse", COST_BYTES_ARG1},
        {LUA_STRLIBNAME, "byte", COST_SLICE},
        {LUA_STRLIBNAME, "pack", COST_FORMAT},
        {LUA_STRLIBNAME, "packsize", COST_FORMAT},
        {LUA_STRLIBNAME, "unpack", COST_FORMAT},
        {LUA_STRLIBNAME, "format", COST_BYTES_ALL},
        {LUA_STRLIBNAME, "char", COST_BYTES_ALL},
        {LUA_UTF8LIBNAME, "len", COST_BYTES_ARG1},
        {LUA_UTF8LIBNAME, "codepoint", COST_SLICE},
        {LUA_UTF8LIBNAME, "offset", COST_BYTES_ARG1},
        {LUA_UTF8LIBNAME, "char", COST_BYTES_ALL},
        {LUA_TABLIBNAME, "concat", COST_CONCAT},
        {LUA_TABLIBNAME, "unpack", COST_UNPACK},
        {LUA_TABLIBNAME, "insert", COST_LENGTH},
        {LUA_TABLIBNAME, "remove", COST_LENGTH},
        {LUA_TABLIBNAME, "move", COST_MOVE},
        {LUA_TABLIBNAME, "sort", COST_SORT},
    };
    for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++) {
        lua_getglobal(L, wrapped[i].library);
        if (lua_istable(L, -1)) wrap(L, lua_gettop(L), wrapped[i].name, wrapped[i].cost);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    wrap(L, lua_gettop(L), "collectgarbage", COST_HEAP);
    // Converting a numeric string is linear in its length.
    wrap(L, lua_gettop(L), "tonumber", COST_BYTES_ALL);
    lua_pop(L, 1);
    // Every math function converts numeric-string arguments.
    lua_getglobal(L, LUA_MATHLIBNAME);
    if (lua_istable(L, -1)) {
        int math = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, math)) {
            // (Replacing the value of an existing field during a traversal is allowed.)
            int convert = lua_type(L, -2) == LUA_TSTRING && lua_tocfunction(L, -1) != NULL;
            lua_pop(L, 1);
            if (convert) wrap(L, math, lua_tostring(L, -1), COST_BYTES_ALL);
        }
    }
    lua_pop(L, 1);
    // Arithmetic on strings runs the string metatable's metamethods, which
    // convert the operands (a linear scan of each).
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        static const char *const arithmetic[] = {
            "__add", "__sub", "__mul", "__mod", "__pow", "__div", "__idiv", "__unm",
        };
        for (size_t i = 0; i < sizeof arithmetic / sizeof arithmetic[0]; i++)
            wrap(L, lua_gettop(L), arithmetic[i], COST_BYTES_ALL);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    keep_open_piecewise_date(L);
}
