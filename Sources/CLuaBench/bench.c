#include "CLuaBench.h"
#include "CLuaShim.h"

int keep_bench_identity(lua_State *L) {
    lua_pushinteger(L, lua_tointegerx(L, 1, NULL));
    return 1;
}

int keep_bench_pcall_loop(lua_State *L, int count) {
    int failures = 0;
    for (int i = 0; i < count; i++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, i);
        if (keep_pcall(L, 1, 1) != LUA_OK) failures++;
        lua_pop(L, 1);
    }
    return failures;
}
