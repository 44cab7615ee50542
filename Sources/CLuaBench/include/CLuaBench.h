// Benchmark anchors written in C: what the Swift bridge is compared against.
#ifndef KEEP_CLUA_BENCH_H
#define KEEP_CLUA_BENCH_H

#include <lua.h>

/// A C function equivalent of the Swift host function in the benchmark:
/// returns its integer argument.
int keep_bench_identity(lua_State *L);

/// Calls the Lua function at the top of the stack `count` times with
/// keep_pcall (the bridge's protected call) from C; leaves the stack as found.
/// Returns the number of failed calls.
int keep_bench_pcall_loop(lua_State *L, int count);

#endif
