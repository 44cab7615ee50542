// See CLuaShim.h. Everything here may raise Lua errors (longjmp) because no
// Swift frame is ever between the raise and the protected call that catches it.
#define _GNU_SOURCE
#include "CLuaShim.h"

#include <locale.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const KEEP_FUNCTION_BOX = "keep.hostfunction";
// Address used as a raw registry key (lua_rawsetp): no metamethod can intervene.
static const char KEEP_TRACEBACK_KEY = 0;
static const char *const KEEP_ERROR_META = "keep.error";

static KeepHostDispatch keep_dispatch = NULL;
static KeepHostRelease keep_release = NULL;
static volatile sig_atomic_t keep_interrupt_pending = 0;
// The budget of the interruptible call in progress, for the signal handler.
static KeepBudget *volatile keep_interruptible = NULL;

static KeepBudget *budget_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (KeepBudget *)ud;
}

KeepBudget *keep_budget(lua_State *L) { return budget_of(L); }

int64_t keep_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// MARK: - Allocator

static void keep_arm_threads(KeepBudget *b);

// Refuses growth beyond the memory limit only while Lua code runs. While Swift
// runs (host functions, the host driving the state) it lets the allocation
// through and trips the budget; the trampoline raises once Swift has returned.
static void *keep_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    KeepBudget *b = (KeepBudget *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->memory_used -= old;
        return NULL;
    }
    if (b->active && b->tripped && b->in_lua && nsize > old) {
        return NULL;  // a spent budget gives nothing more to Lua code
    }
    if (b->active && b->memory_limit > 0 && nsize > old
        && b->memory_used - old + nsize > b->memory_limit) {
        if (b->in_lua) {
            // Refused. Lua's core would retry after an emergency collection,
            // but lauxlib's buffers would not; the budget counts garbage too,
            // so the first refusal spends it (sticky: pcall cannot swallow it).
            if (!b->tripped) {
                b->tripped = KEEP_TRIP_MEMORY;
                keep_arm_threads(b);
            }
            return NULL;
        }
        b->overdraft = 1;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) return NULL;
    b->memory_used = b->memory_used - old + nsize;
    if (b->memory_used > b->memory_peak) b->memory_peak = b->memory_used;
    return block;
}

// After a trip every thread that may run Lua again is hooked at every
// instruction, so the next instruction of any of them raises the budget error
// (a memory error caught by pcall, or a trip inside a coroutine whose resume
// returned, cannot let the script run on). lua_sethook only sets fields of
// the thread: it is safe here as it is in a signal handler.
static void keep_count_hook(lua_State *L, lua_Debug *ar);
static void keep_arm_threads(KeepBudget *b) {
    if (b->main != NULL) lua_sethook(b->main, keep_count_hook, LUA_MASKCOUNT, 1);
    if (b->running != NULL && b->running != b->main) lua_sethook(b->running, keep_count_hook, LUA_MASKCOUNT, 1);
}

static int keep_panic(lua_State *L) {
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(non-string error)";
    fprintf(stderr, "keep: unprotected Lua error (a bug in Keep): %s\n", msg);
    abort();
    return 0;
}

// MARK: - Budget errors and the count hook

void keep_push_trip_error(lua_State *L, KeepBudget *b) {
    char message[160];
    const char *code = "limit";
    switch (b->tripped) {
    case KEEP_TRIP_INSTRUCTIONS:
        snprintf(message, sizeof message, "instruction budget of %lld instructions exceeded",
                 (long long)b->instruction_limit);
        break;
    case KEEP_TRIP_MEMORY:
        snprintf(message, sizeof message, "memory budget of %.2f MiB exceeded",
                 (double)b->memory_limit / 1048576.0);
        break;
    case KEEP_TRIP_TIME:
        snprintf(message, sizeof message, "time budget of %lld ms exceeded",
                 (long long)b->time_limit_ms);
        break;
    case KEEP_TRIP_INTERRUPT:
        code = "interrupted";
        snprintf(message, sizeof message, "stopped by an interrupt (SIGINT)");
        break;
    default:
        snprintf(message, sizeof message, "budget exceeded");
    }
    // Building the error may allocate past the limit: a bounded overdraft.
    int saved = b->in_lua;
    b->in_lua = 0;
    lua_createtable(L, 0, 2);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    luaL_getmetatable(L, KEEP_ERROR_META);
    if (lua_istable(L, -1)) lua_setmetatable(L, -2); else lua_pop(L, 1);
    b->in_lua = saved;
}

// Raises the budget error. After a trip the hook runs at every instruction of
// the thread, so a script that catches the error with pcall is stopped again
// by its next instruction (the approach of Redis' script timeout).
static int keep_raise_trip(lua_State *L, KeepBudget *b) {
    lua_sethook(L, keep_count_hook, LUA_MASKCOUNT, 1);
    keep_arm_threads(b);
    keep_push_trip_error(L, b);
    return lua_error(L);
}

// A coroutine in which the count hook raised is left by Lua 5.4.4 with its
// hooks disabled (lua_resume does not restore `allowhook` after an error, as
// lua_pcall does), so its pending to-be-closed variables would run with no
// budget at all if it were closed. The hook marks such threads in their
// extra space; Keep's coroutine.close and coroutine.wrap never close them.
#define KEEP_THREAD_STOPPED ((uintptr_t)1)

static void keep_mark_stopped(lua_State *L) {
    *(uintptr_t *)lua_getextraspace(L) |= KEEP_THREAD_STOPPED;
}

static int keep_is_stopped(lua_State *L) {
    return (*(uintptr_t *)lua_getextraspace(L) & KEEP_THREAD_STOPPED) != 0;
}

// Accounts `units` of work; returns whether the budget is (now) spent.
// Outside a budgeted call (a chunk compiled before its call, a host
// function called from an unbudgeted call) nothing is charged and nothing
// trips: an interrupt that comes then stays pending for the next
// interruptible call, and no trip outlives the call it stopped (a trip
// recorded here would never be cleared, and would stop every later compile).
static int keep_spend(KeepBudget *b, int64_t units) {
    if (!b->active) return 0;
    if (b->tripped) return 1;
    if (b->interruptible && keep_interrupt_pending) {
        b->tripped = KEEP_TRIP_INTERRUPT;
    } else if (b->active) {
        b->instructions_used += units;
        if (b->instruction_limit > 0 && b->instructions_used > b->instruction_limit) {
            b->tripped = KEEP_TRIP_INSTRUCTIONS;
        } else if (b->deadline_ns > 0 && keep_monotonic_ns() > b->deadline_ns) {
            b->tripped = KEEP_TRIP_TIME;
        }
    }
    return b->tripped != KEEP_TRIP_NONE;
}

// Instructions between two hook runs for thread L. One VM instruction can
// do work in proportion to a string's length (comparing two strings,
// converting a numeric string for math.abs or string.sub): the bigger the
// heap, the bigger such strings can be, so the stride shrinks as the heap
// grows and the time between two deadline checks stays about the same.
static int keep_stride(lua_State *L, KeepBudget *b) {
    int stride = L == b->main ? KEEP_HOOK_STRIDE : KEEP_COROUTINE_STRIDE;
    if (b->memory_used > KEEP_LARGE_HEAP) {
        size_t scaled = (size_t)KEEP_HOOK_STRIDE * KEEP_LARGE_HEAP / b->memory_used;
        if (scaled < (size_t)stride) stride = scaled < KEEP_MIN_STRIDE ? KEEP_MIN_STRIDE : (int)scaled;
    }
    return stride;
}

static void keep_count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    KeepBudget *b = budget_of(L);
    int stride = lua_gethookcount(L);
    if (!b->tripped && !(b->interruptible && keep_interrupt_pending)) {
        // Back to the thread's normal stride (after a trip or interrupt
        // re-armed it at 1, or as the heap changed size), or no hook when
        // nothing needs counting.
        if (b->active && (b->instruction_limit > 0 || b->deadline_ns > 0)) {
            int wanted = keep_stride(L, b);
            if (wanted != stride) lua_sethook(L, keep_count_hook, LUA_MASKCOUNT, wanted);
        } else if (stride == 1) {
            lua_sethook(L, NULL, 0, 0);
        }
    }
    if (keep_spend(b, stride)) {
        if (L != b->main) keep_mark_stopped(L);
        keep_raise_trip(L, b);
    }
}

int keep_budget_spend(lua_State *L, int64_t units, size_t external_bytes) {
    KeepBudget *b = budget_of(L);
    if (!b->tripped && b->active && b->memory_limit > 0
        && b->memory_used + external_bytes > b->memory_limit) {
        b->tripped = KEEP_TRIP_MEMORY;
    }
    return keep_spend(b, units);
}

void keep_budget_trip_memory(lua_State *L) {
    KeepBudget *b = budget_of(L);
    if (b->active && !b->tripped) {
        b->tripped = KEEP_TRIP_MEMORY;
        keep_arm_threads(b);
    }
}

void keep_budget_charge(lua_State *L, int64_t units) {
    KeepBudget *b = budget_of(L);
    if (keep_spend(b, units)) keep_raise_trip(L, b);
}

lua_State *keep_newstate(KeepBudget *budget) {
    memset(budget, 0, sizeof *budget);
    lua_State *L = lua_newstate(keep_alloc, budget);
    if (L == NULL) return NULL;
    lua_atpanic(L, keep_panic);
    budget->main = L;
    budget->running = L;
    return L;
}

void keep_budget_begin(lua_State *L, KeepBudget *b) {
    b->instructions_used = 0;
    b->memory_peak = b->memory_used;
    b->tripped = KEEP_TRIP_NONE;
    b->overdraft = 0;
    b->active = 1;
    b->running = L;
    // A count hook makes the VM trap every instruction (about twice the cost
    // of plain Lua), so it is on only when instructions or time are limited.
    // An interrupt installs it on demand, as lua.c does.
    if (b->instruction_limit > 0 || b->deadline_ns > 0) {
        lua_sethook(L, keep_count_hook, LUA_MASKCOUNT, KEEP_HOOK_STRIDE);
    } else {
        lua_sethook(L, NULL, 0, 0);
    }
    if (b->interruptible) {
        keep_interruptible = b;
        // An interrupt that came before the call began (set after publishing
        // the budget, so the signal handler or this line arms the hook).
        if (keep_interrupt_pending) lua_sethook(L, keep_count_hook, LUA_MASKCOUNT, 1);
    }
}

void keep_budget_end(KeepBudget *b) {
    if (keep_interruptible == b) keep_interruptible = NULL;
    // An interrupt is consumed by the call it stopped. One that came before
    // the call began is kept (the REPL: Ctrl-C right after Enter).
    if (b->tripped == KEEP_TRIP_INTERRUPT) keep_interrupt_pending = 0;
    b->active = 0;
    b->tripped = KEEP_TRIP_NONE;  // a spent budget must not leak into calls made afterwards
    b->overdraft = 0;
    lua_sethook(b->main, NULL, 0, 0);
}

// MARK: - xpcall

// Lua calls a message handler for an error raised by the count hook while the
// hook is still active, that is with hooks disabled: a handler that loops
// could never be stopped. The guard skips the script's handler once the budget
// is spent and passes the budget error through.
static int keep_handler_guard(lua_State *L) {
    if (budget_of(L)->tripped) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int keep_xpcall_finish(lua_State *L, int status, lua_KContext base) {
    (void)status;
    return lua_gettop(L) - (int)base;
}

static int keep_budgeted_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, keep_handler_guard, 1);
    lua_replace(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));  // the original xpcall
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, keep_xpcall_finish);
    return keep_xpcall_finish(L, LUA_OK, 0);
}

void keep_open_budgeted_xpcall(lua_State *L) {
    lua_getglobal(L, "xpcall");
    lua_pushcclosure(L, keep_budgeted_xpcall, 1);
    lua_setglobal(L, "xpcall");
}

// MARK: - Coroutines

// coroutine.resume, wrap and close with the same behaviour as lcorolib's,
// plus what the budget needs:
// - the running thread is recorded, so an interrupt can hook it too;
// - once the budget is spent, resuming raises the budget error in the
//   resumer, and so does a resume that returns after a trip inside the
//   coroutine (it must not come back as a plain `false, err` the script
//   could ignore);
// - a coroutine stopped by the hook is never closed (see keep_mark_stopped),
//   and closing is nested at most KEEP_MAX_CLOSE_DEPTH deep: Lua 5.4.4 does
//   not count lua_resetthread against its C-stack limit, and deeply nested
//   coroutine.close calls (a __close handler closing another coroutine…)
//   overflow the C stack (fixed upstream in 5.4.5).
static int keep_auxresume(lua_State *L, lua_State *co, int narg) {
    KeepBudget *b = budget_of(L);
    if (b->tripped) keep_raise_trip(L, b);
    if (!lua_checkstack(co, narg)) {
        lua_pushliteral(L, "too many arguments to resume");
        return -1;
    }
    lua_xmove(L, co, narg);
    if (b->active && (b->instruction_limit > 0 || b->deadline_ns > 0)) {
        // A new thread starts with a full hook count, so short resumes would
        // never reach the hook: charge each resume a full coroutine stride up
        // front and count inside coroutines at that finer stride.
        keep_budget_charge(L, KEEP_COROUTINE_STRIDE);
        if (lua_gethookcount(co) != 1) lua_sethook(co, keep_count_hook, LUA_MASKCOUNT, keep_stride(co, b));
    }
    lua_State *previous = b->running;
    b->running = co;
    if (keep_interrupt_pending && b->interruptible) lua_sethook(co, keep_count_hook, LUA_MASKCOUNT, 1);
    int nres = 0;
    int status = lua_resume(co, L, narg, &nres);
    b->running = previous;
    if (b->tripped) keep_raise_trip(L, b);
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
            return -1;
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);
    return -1;
}

static int keep_resume(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    int r = keep_auxresume(L, co, lua_gettop(L) - 1);
    if (r < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(r + 1));
    return r + 1;
}

// Bytes of C stack left below this frame on the calling thread (its lowest
// address is looked up once per thread); SIZE_MAX when it cannot be known.
static __thread uintptr_t keep_stack_floor = 0;

static size_t keep_stack_left(void) {
    char here;
    if (keep_stack_floor == 0) {
        pthread_attr_t attributes;
        void *low = NULL;
        size_t size = 0;
        keep_stack_floor = 1;  // unknown unless found below
        if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
            if (pthread_attr_getstack(&attributes, &low, &size) == 0 && low != NULL) keep_stack_floor = (uintptr_t)low;
            pthread_attr_destroy(&attributes);
        }
    }
    if (keep_stack_floor == 1 || (uintptr_t)&here < keep_stack_floor) return SIZE_MAX;
    return (size_t)((uintptr_t)&here - keep_stack_floor);
}

// Whether one more level of closing may start: each level can take a few
// hundred KiB of C stack (a __close handler may recurse in C as deep as Lua
// allows), so a depth limit alone is not enough on a small thread stack.
static int keep_may_close(KeepBudget *b) {
    return b->close_depth < KEEP_MAX_CLOSE_DEPTH && keep_stack_left() >= KEEP_CLOSE_STACK_RESERVE;
}

// lua_resetthread(co) under the nesting guard. Returns its status, or -1
// without closing anything when the guard refuses.
static int keep_reset_thread(lua_State *L, lua_State *co) {
    KeepBudget *b = budget_of(L);
    if (keep_is_stopped(co) || !keep_may_close(b)) return -1;
    b->close_depth++;
    int status = lua_resetthread(co);  // runs __close handlers in protected mode
    b->close_depth--;
    return status;
}

static int keep_auxwrap(lua_State *L) {
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int r = keep_auxresume(L, co, lua_gettop(L));
    if (r < 0) {
        int status = lua_status(co);
        if (status != LUA_OK && status != LUA_YIELD) {
            // Close its to-be-closed variables (the error value is then
            // the one the closing left, as in lcorolib).
            int closed = keep_reset_thread(L, co);
            if (closed >= 0) {
                status = closed;
                lua_pop(L, 1);
                lua_xmove(co, L, 1);
            }
        }
        if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return r;
}

static int keep_wrap(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, keep_auxwrap, 1);
    return 1;
}

// upvalue 1: lcorolib's coroutine.close, which checks the coroutine's status
// and then calls lua_resetthread.
static int keep_close(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    KeepBudget *b = budget_of(L);
    if (b->tripped) return keep_raise_trip(L, b);
    if (keep_is_stopped(co)) {
        // Its handlers would run with hooks off: they are not run at all.
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "cannot close a coroutine stopped by its budget (its to-be-closed variables are not closed)");
        return 2;
    }
    if (!keep_may_close(b))
        return luaL_error(L, "coroutine.close nested more than %d deep, or too little C stack left to close "
                          "another coroutine (guard for a Lua 5.4.4 bug)", b->close_depth);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    b->close_depth++;
    int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    b->close_depth--;
    if (status != LUA_OK) return lua_error(L);
    if (b->tripped) return keep_raise_trip(L, b);
    return lua_gettop(L);
}

void keep_open_tracked_coroutines(lua_State *L) {
    lua_getglobal(L, LUA_COLIBNAME);
    lua_pushcfunction(L, keep_resume);
    lua_setfield(L, -2, "resume");
    lua_pushcfunction(L, keep_wrap);
    lua_setfield(L, -2, "wrap");
    lua_getfield(L, -1, "close");
    lua_pushcclosure(L, keep_close, 1);
    lua_setfield(L, -2, "close");
    lua_pop(L, 1);
}

// MARK: - Loading chunks

// Lua compiles a whole chunk inside one lua_load call, where the count hook
// never runs, and some inputs take the parser seconds (tens of thousands of
// gotos and labels, deeply nested scopes). The reader below hands the parser
// the text in pieces and charges each piece to the budget, so a spent budget,
// the deadline or an interrupt stops the compilation between two pieces.
typedef struct PieceReader {
    const char *data;
    size_t size;
    size_t offset;
    int stopped;
} PieceReader;

static const char *keep_piece_reader(lua_State *L, void *ud, size_t *size) {
    PieceReader *reader = (PieceReader *)ud;
    size_t left = reader->size - reader->offset;
    if (left == 0 || reader->stopped) {
        *size = 0;
        return NULL;
    }
    size_t piece = left < KEEP_LOAD_PIECE ? left : KEEP_LOAD_PIECE;
    if (keep_spend(budget_of(L), (int64_t)(piece / KEEP_LOAD_BYTES_PER_UNIT) + 1)) {
        reader->stopped = 1;  // the parser sees the end of the text; the result is discarded
        *size = 0;
        return NULL;
    }
    const char *start = reader->data + reader->offset;
    reader->offset += piece;
    *size = piece;
    return start;
}

// The chunk's name as Lua's messages show it, short: `load`'s default name
// is the source text itself, which may be megabytes long.
static void keep_chunk_label(char *out, size_t size, const char *chunkname) {
    if (*chunkname == '=' || *chunkname == '@') {
        snprintf(out, size, "%.60s", chunkname + 1);
    } else {
        size_t line = strcspn(chunkname, "\n");
        int cut = line > 40 || chunkname[line] != '\0';
        snprintf(out, size, "[string \"%.*s%s\"]", (int)(line > 40 ? 40 : line), chunkname, cut ? "..." : "");
    }
}

int keep_load_buffer(lua_State *L, const char *data, size_t size, const char *chunkname, const char *mode) {
    char label[80];
    keep_chunk_label(label, sizeof label, chunkname);
    if (size > KEEP_MAX_CHUNK) {
        lua_pushfstring(L, "%s: the chunk is %I bytes; chunks are limited to %d MiB", label,
                        (lua_Integer)size, (int)(KEEP_MAX_CHUNK >> 20));
        return LUA_ERRSYNTAX;
    }
    (void)mode;  // text only, whatever was asked: a damaged or hand-made binary chunk can crash Lua
    KeepBudget *b = budget_of(L);
    PieceReader reader = {data, size, 0, 0};
    int saved = b->in_lua;
    b->in_lua = 1;  // the parser's allocations count like Lua code's (it raises in protected mode)
    int status = lua_load(L, keep_piece_reader, &reader, chunkname, "t");
    b->in_lua = saved;
    if (reader.stopped || b->tripped) {
        lua_pop(L, 1);
        return KEEP_LOAD_STOPPED;
    }
    if (status == LUA_OK) {
        const char *problem = keep_check_compiled(L);
        if (problem != NULL) {
            lua_pop(L, 1);
            lua_pushfstring(L, "%s: refused: %s", label, problem);
            return LUA_ERRSYNTAX;
        }
    }
    return status;
}

// Calls the reader function (argument 1) until it returns nil or "", and
// returns the pieces joined (load's function form, gathered so that the
// text is then compiled piece by piece under the budget).
static int keep_gather_pieces(lua_State *L) {
    luaL_Buffer text;
    luaL_buffinit(L, &text);
    size_t total = 0;
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "reader function must return a string");
        size_t piece = lua_rawlen(L, -1);
        if (piece == 0) {
            lua_pop(L, 1);
            break;
        }
        total += piece;
        if (total > KEEP_MAX_CHUNK)
            return luaL_error(L, "the reader function gave more than %d MiB; chunks are limited to %d MiB",
                              (int)(KEEP_MAX_CHUNK >> 20), (int)(KEEP_MAX_CHUNK >> 20));
        luaL_addvalue(&text);
    }
    luaL_pushresult(&text);
    return 1;
}

// load(chunk [, chunkname [, mode [, env]]]) as in lbaselib, compiled through
// keep_load_buffer.
static int keep_budgeted_load(lua_State *L) {
    size_t length = 0;
    const char *source = lua_tolstring(L, 1, &length);
    const char *mode = luaL_optstring(L, 3, "bt");
    int environment = !lua_isnone(L, 4) ? 4 : 0;
    int status;
    if (source != NULL) {
        const char *chunkname = luaL_optstring(L, 2, source);
        status = keep_load_buffer(L, source, length, chunkname, mode);
    } else {
        const char *chunkname = luaL_optstring(L, 2, "=(load)");
        luaL_checktype(L, 1, LUA_TFUNCTION);
        lua_pushcfunction(L, keep_gather_pieces);
        lua_pushvalue(L, 1);
        status = lua_pcall(L, 1, 1, 0);
        if (status == LUA_OK) {
            source = lua_tolstring(L, -1, &length);
            status = keep_load_buffer(L, source, length, chunkname, mode);
            if (status != KEEP_LOAD_STOPPED) lua_remove(L, -2);  // the gathered text
        }
    }
    KeepBudget *b = budget_of(L);
    if (status == KEEP_LOAD_STOPPED || b->tripped) return keep_raise_trip(L, b);
    if (status != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (environment != 0) {
        lua_pushvalue(L, environment);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

void keep_open_budgeted_load(lua_State *L) {
    lua_pushcfunction(L, keep_budgeted_load);
    lua_setglobal(L, "load");
}

// MARK: - SIGINT

static void keep_arm_interrupt(void) {
    keep_interrupt_pending = 1;
    KeepBudget *b = keep_interruptible;
    if (b != NULL) {
        // lua_sethook may be called asynchronously (lua.c does it from its
        // signal handler); the hook turns the flag into an error.
        lua_sethook(b->main, keep_count_hook, LUA_MASKCOUNT, 1);
        lua_State *running = b->running;
        if (running != NULL && running != b->main) lua_sethook(running, keep_count_hook, LUA_MASKCOUNT, 1);
    }
}

static void keep_on_sigint(int sig) {
    (void)sig;
    keep_arm_interrupt();
}

void keep_install_sigint_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = keep_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    // A parent may have started us with SIGINT blocked (the mask is inherited).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void keep_restore_sigint_handler(void) { signal(SIGINT, SIG_DFL); }
void keep_request_interrupt(void) { keep_arm_interrupt(); }
void keep_clear_interrupt(void) { keep_interrupt_pending = 0; }
int keep_take_interrupt(void) {
    int pending = keep_interrupt_pending;
    keep_interrupt_pending = 0;
    return pending;
}

// MARK: - Host functions and objects

void keep_set_host_callbacks(KeepHostDispatch dispatch, KeepHostRelease release) {
    keep_dispatch = dispatch;
    keep_release = release;
}

static int keep_box_gc(lua_State *L) {
    void **slot = (void **)lua_touserdata(L, 1);
    if (slot != NULL && *slot != NULL) {
        void *reference = *slot;
        *slot = NULL;
        keep_release(reference);
    }
    return 0;
}

// The only way Lua enters Swift. Swift reports failure by returning -1 with
// the error value pushed; the raise happens here, after Swift has returned.
static int keep_host_trampoline(lua_State *L) {
    void **slot = (void **)lua_touserdata(L, lua_upvalueindex(1));
    KeepBudget *b = budget_of(L);
    int saved = b->in_lua;
    b->in_lua = 0;
    int results = keep_dispatch(L, *slot);
    b->in_lua = saved;
    if (b->overdraft) {
        // Swift went past the memory limit; part of that may be garbage, so
        // collect before deciding whether the budget is spent.
        b->overdraft = 0;
        lua_gc(L, LUA_GCCOLLECT);
        if (b->active && b->memory_limit > 0 && b->memory_used > b->memory_limit && !b->tripped)
            b->tripped = KEEP_TRIP_MEMORY;
    }
    // A host function may have waited (on the database): its time counts
    // against the deadline, which is checked as soon as it returns.
    if (b->tripped || keep_spend(b, 1)) return keep_raise_trip(L, b);
    if (results < 0) return lua_error(L);
    return results;
}

int keep_host_metatable(lua_State *L, const char *tname) {
    if (!luaL_newmetatable(L, tname)) return 0;
    lua_pushcfunction(L, keep_box_gc);
    lua_setfield(L, -2, "__gc");
    return 1;
}

void keep_push_host_function(lua_State *L, void *host) {
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = host;
    keep_host_metatable(L, KEEP_FUNCTION_BOX);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, keep_host_trampoline, 1);
}

void keep_push_host_object(lua_State *L, void *reference, const char *tname) {
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = reference;
    luaL_setmetatable(L, tname);
}

void *keep_host_object(lua_State *L, int idx, const char *tname) {
    void **slot = (void **)luaL_testudata(L, idx, tname);
    return slot ? *slot : NULL;
}

// MARK: - Calls and errors

// Message handler: records a traceback beside the error and returns the error
// value unchanged, so error tables keep their fields.
static int keep_message_handler(lua_State *L) {
    KeepBudget *b = budget_of(L);
    int saved = b->in_lua;
    b->in_lua = 0;  // the traceback may allocate past the limit
    luaL_traceback(L, L, NULL, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &KEEP_TRACEBACK_KEY);
    b->in_lua = saved;
    return 1;
}

int keep_pcall(lua_State *L, int nargs, int nresults) {
    KeepBudget *b = budget_of(L);
    int base = lua_gettop(L) - nargs;
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &KEEP_TRACEBACK_KEY);
    lua_pushcfunction(L, keep_message_handler);
    lua_insert(L, base);
    int saved = b->in_lua;
    b->in_lua = 1;
    int status = lua_pcall(L, nargs, nresults, base);
    b->in_lua = saved;
    lua_remove(L, base);
    return status;
}

void keep_push_traceback(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KEEP_TRACEBACK_KEY);
}

static int keep_tostring_body(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

int keep_tostring_protected(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    KeepBudget *b = budget_of(L);
    int saved = b->in_lua;
    b->in_lua = 1;
    lua_pushcfunction(L, keep_tostring_body);
    lua_pushvalue(L, idx);
    int status = lua_pcall(L, 1, 1, 0);
    b->in_lua = saved;
    return status;
}

const char *keep_tostring(lua_State *L, int idx, size_t *len) {
    idx = lua_absindex(L, idx);
    int status = keep_tostring_protected(L, idx);
    if (status != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushfstring(L, "(error object is a %s value; its __tostring failed)", luaL_typename(L, idx));
    }
    return lua_tolstring(L, -1, len);
}

static int keep_next_body(lua_State *L) {
    return lua_next(L, 1) ? 2 : 0;
}

int keep_next(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    int key = lua_gettop(L);
    lua_pushcfunction(L, keep_next_body);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, key);
    KeepBudget *b = budget_of(L);
    int saved = b->in_lua;
    b->in_lua = 0;  // lua_next allocates nothing; keep the caller's (Swift's) rules
    int status = lua_pcall(L, 2, LUA_MULTRET, 0);
    b->in_lua = saved;
    int results = lua_gettop(L) - key;
    lua_remove(L, key);
    if (status != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return results == 2 ? 1 : 0;
}

void keep_where(lua_State *L, int level) {
    luaL_where(L, level);
}

// MARK: - Numbers

static locale_t keep_c_locale;
static pthread_once_t keep_c_locale_once = PTHREAD_ONCE_INIT;
static void keep_make_c_locale(void) { keep_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

double keep_strtod_c(const char *text) {
    // Glibc declares strtod_l only under _GNU_SOURCE, which Swift cannot set.
    pthread_once(&keep_c_locale_once, keep_make_c_locale);
    return strtod_l(text, NULL, keep_c_locale);
}
