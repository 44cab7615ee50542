// Lua 5.4 from the system (Debian: liblua5.4-dev; headers in /usr/include/lua5.4,
// found through `pkg-config lua5.4`). Nothing but the three public headers.
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
