// Charges C library calls to the budget before they run.
//
// Why: the count hook only sees Lua instructions. One call of string.rep,
// table.move, table.sort, utf8.len, collectgarbage… can do work in proportion
// to its arguments (string.rep("", math.maxinteger) loops 2^63 times without
// allocating), so each such call is first charged that work, in instruction
// units, and stopped with the budget error when the budget cannot pay.
#include "CLuaShim.h"

#include <stdint.h>

typedef enum Cost {
    COST_BYTES_ARG1,     // string functions: the length of the subject
    COST_BYTES_ALL,      // string.format, utf8.char: all string arguments
    COST_REP,            // string.rep(s, n, sep)
    COST_MOVE,           // table.move(a, f, e, t)
    COST_RANGE,          // table.concat/unpack(list, [sep,] i, j): j - i + 1
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
    case COST_RANGE: {
        // concat(list, sep, i, j) has its range at 3..4; unpack(list, i, j) at 2..3.
        int first_arg = lua_type(L, 2) == LUA_TSTRING || lua_gettop(L) >= 4 ? 3 : 2;
        lua_Integer first = lua_type(L, first_arg) == LUA_TNUMBER ? lua_tointegerx(L, first_arg, NULL) : 1;
        lua_Integer last = lua_type(L, first_arg + 1) == LUA_TNUMBER ? lua_tointegerx(L, first_arg + 1, NULL)
                                                                     : (lua_Integer)table_length(L, 1);
        return span(first, last);
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
        {LUA_STRLIBNAME, "byte", COST_BYTES_ARG1},
        {LUA_STRLIBNAME, "format", COST_BYTES_ALL},
        {LUA_STRLIBNAME, "char", COST_BYTES_ALL},
        {LUA_UTF8LIBNAME, "len", COST_BYTES_ARG1},
        {LUA_UTF8LIBNAME, "codepoint", COST_BYTES_ARG1},
        {LUA_UTF8LIBNAME, "offset", COST_BYTES_ARG1},
        {LUA_UTF8LIBNAME, "char", COST_BYTES_ALL},
        {LUA_TABLIBNAME, "concat", COST_RANGE},
        {LUA_TABLIBNAME, "unpack", COST_RANGE},
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
    lua_pop(L, 1);
}
