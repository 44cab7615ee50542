// CLuaShim: the few things Swift cannot do against the Lua C API itself.
//
// - forwards for Lua's function-like macros (Swift does not import them);
// - the budgeted allocator and the count hook (instruction, memory, time and
//   interrupt budgets; they must raise Lua errors, which only C may do);
// - the host-function trampoline: Swift host functions return a status and this
//   C frame raises the Lua error after the Swift frame has returned;
// - the message handler that adds a traceback, and protected tostring.
//
// Each function notes its Lua stack effect as in the Lua manual: [-pop, +push].
#ifndef KEEP_CLUA_SHIM_H
#define KEEP_CLUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>

// MARK: - Macro forwards

static inline int keep_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int keep_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void keep_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void keep_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline void keep_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline void keep_replace(lua_State *L, int idx) { lua_replace(L, idx); }
static inline void keep_newtable(lua_State *L) { lua_newtable(L); }
static inline void keep_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline int keep_ridx_globals(void) { return LUA_RIDX_GLOBALS; }
/// The Lua release Keep was built against, e.g. "Lua 5.4.4" (a string macro).
static inline const char *keep_lua_release(void) { return LUA_RELEASE; }
/// lua_gc is variadic. Finalizer errors during the collection become warnings.
static inline void keep_collect_garbage(lua_State *L) { lua_gc(L, LUA_GCCOLLECT); }
/// Stops the collector and returns whether it was running: while Swift walks
/// a table with lua_next, no finalizer may run Lua code that changes it (a
/// changed table makes lua_next raise, and nothing may raise through Swift).
static inline int keep_gc_pause(lua_State *L) {
    int running = lua_gc(L, LUA_GCISRUNNING);
    if (running == 1) lua_gc(L, LUA_GCSTOP);
    return running == 1;
}
/// Restarts the collector if keep_gc_pause stopped it.
static inline void keep_gc_resume(lua_State *L, int paused) { if (paused) lua_gc(L, LUA_GCRESTART); }

// MARK: - Budgets

/// Why a budgeted call was stopped.
typedef enum KeepTrip {
    KEEP_TRIP_NONE = 0,
    KEEP_TRIP_INSTRUCTIONS = 1,
    KEEP_TRIP_MEMORY = 2,
    KEEP_TRIP_TIME = 3,
    KEEP_TRIP_INTERRUPT = 4,
} KeepTrip;

/// Per-state accounting, owned by the Swift `LuaState` and passed to Lua as the
/// allocator's user data (so the hook and the trampoline find it from any thread
/// or coroutine of the state).
typedef struct KeepBudget {
    // Limits of the call in progress; 0 means unlimited.
    int64_t instruction_limit;
    size_t memory_limit;
    int64_t deadline_ns;            // CLOCK_MONOTONIC
    int64_t time_limit_ms;          // for the error message only
    int interruptible;              // honour keep_request_interrupt()

    // Accounting.
    size_t memory_used;             // bytes the Lua heap holds now
    size_t memory_peak;             // highest memory_used since the call began
    int64_t instructions_used;      // during the current call

    // State.
    int active;                     // a budgeted call is running
    int in_lua;                     // 1 while Lua runs; 0 while Swift runs (no refusals then)
    int tripped;                    // KeepTrip; sticky until the call ends
    int overdraft;                  // Swift allocated past the limit (checked on return)
    int close_depth;                // nested coroutine.close / lua_resetthread calls running
    lua_State *main;                // the state's main thread
    lua_State *running;             // the thread running now (tracked by coroutine.resume/wrap)
} KeepBudget;

/// Instructions between two runs of the count hook.
#define KEEP_HOOK_STRIDE 1000
/// The same inside coroutines, each resume of which is charged this much.
#define KEEP_COROUTINE_STRIDE 100
/// Above this heap size the stride shrinks in proportion (see keep_stride).
#define KEEP_LARGE_HEAP ((size_t)1 << 20)
/// The smallest stride.
#define KEEP_MIN_STRIDE 8
/// How deeply coroutine.close (and the closing done by coroutine.wrap) may nest.
#define KEEP_MAX_CLOSE_DEPTH 32
/// C stack that must be left for another level of closing to start.
#define KEEP_CLOSE_STACK_RESERVE ((size_t)1 << 20)

/// A new state whose allocator accounts into `budget` and whose count hook
/// enforces it. NULL when the system is out of memory.
lua_State *keep_newstate(KeepBudget *budget);

/// The budget of the state `L` belongs to.
KeepBudget *keep_budget(lua_State *L);

/// Start a budgeted call: clears counters and trips, resets the hook of `L`.
void keep_budget_begin(lua_State *L, KeepBudget *budget);
/// End the budgeted call.
void keep_budget_end(KeepBudget *budget);

int64_t keep_monotonic_ns(void);

/// Installs a SIGINT handler that only sets a flag; the count hook turns the
/// flag into an `interrupted` error at the next hook run (as lua.c does).
void keep_install_sigint_handler(void);
/// Restores the default SIGINT disposition.
void keep_restore_sigint_handler(void);
/// Asks running interruptible calls to stop (async-signal-safe).
void keep_request_interrupt(void);
/// Clears a pending interrupt request.
void keep_clear_interrupt(void);
/// Clears a pending interrupt request and returns whether there was one (the
/// REPL reads Ctrl-C at its prompt this way).
int keep_take_interrupt(void);

// MARK: - Host functions and objects

/// Swift's side of the trampoline. Runs the host function `host` with the Lua
/// arguments on the stack. Returns the number of results pushed, or -1 after
/// pushing an error value for the trampoline to raise. Must not raise.
typedef int (*KeepHostDispatch)(lua_State *L, void *host);
/// Releases a retained Swift reference when its userdata is collected.
typedef void (*KeepHostRelease)(void *reference);

/// Sets the Swift callbacks (once, before any state is made).
void keep_set_host_callbacks(KeepHostDispatch dispatch, KeepHostRelease release);

/// [-0, +1] Pushes a Lua function that calls Swift's dispatcher with `host`.
/// Takes over one retain of `host`; the closure's __gc releases it.
void keep_push_host_function(lua_State *L, void *host);

/// [-0, +1] Pushes `tname`'s metatable, creating it with a __gc that releases
/// the Swift reference held by each userdata. Returns 1 if it was created.
int keep_host_metatable(lua_State *L, const char *tname);

/// [-0, +1] Pushes a full userdata holding `reference` (one retain taken over)
/// with the metatable registered as `tname` (which must exist).
void keep_push_host_object(lua_State *L, void *reference, const char *tname);

/// [-0, +0] The reference held by the userdata at `idx` if its metatable is
/// `tname`'s; NULL otherwise or when it was already finalized.
void *keep_host_object(lua_State *L, int idx, const char *tname);

// MARK: - Calls and errors

/// [-(nargs+1), +(nresults|1)] Calls the function below the `nargs` arguments
/// in protected mode with a message handler that records a traceback (see
/// keep_push_traceback). Lua code runs with the memory budget enforced.
int keep_pcall(lua_State *L, int nargs, int nresults);

/// [-0, +1] Pushes the traceback recorded by the last failed keep_pcall (or nil).
void keep_push_traceback(lua_State *L);

/// [-0, +1] Pushes `luaL_tolstring` of the value at `idx`, computed in protected
/// mode: a failing __tostring yields a description of the failure instead.
/// Returns the pushed string.
const char *keep_tostring(lua_State *L, int idx, size_t *len);
/// [-0, +1] `tostring` of the value at idx in protected mode: pushes the
/// text and returns LUA_OK, or pushes the error a `__tostring` raised and
/// returns its status.
int keep_tostring_protected(lua_State *L, int idx);

/// [-1, +(2|0)] lua_next of the table at `idx` in protected mode, for Swift:
/// lua_next raises when the key is no longer in the table (a finalizer or a
/// metamethod run during the walk changed it), and nothing may raise through
/// a Swift frame. Returns 1 with the next key and value pushed, 0 at the end,
/// or -1 (nothing pushed) when the table changed under the walk.
int keep_next(lua_State *L, int idx);

/// [-0, +1] Pushes "chunkname:currentline:" of the function at `level` (1 = the
/// caller of the running C function), or "" when unknown.
void keep_where(lua_State *L, int level);

/// [-0, +1] Pushes the `limit`/`interrupted` error value for a tripped budget.
void keep_push_trip_error(lua_State *L, KeepBudget *budget);

/// Charges `units` of work done in C (pattern matching) to the running call's
/// instruction budget; raises the budget error if it is spent, the time is up
/// or an interrupt is pending.
void keep_budget_charge(lua_State *L, int64_t units);

/// The same for Swift code, which must not raise: charges `units`, counts
/// `external_bytes` (memory Swift holds for the call, outside the Lua heap)
/// against the memory budget, and returns 1 when the budget is spent. The
/// trampoline raises the budget error once the host function returns.
int keep_budget_spend(lua_State *L, int64_t units, size_t external_bytes);

/// Marks the memory budget of the call in progress spent (Swift found that
/// memory it would hold outside the Lua heap does not fit). The trampoline
/// raises the budget error once the host function returns.
void keep_budget_trip_memory(lua_State *L);

/// Replaces string.find, match, gmatch and gsub with versions of the same
/// semantics whose matching steps are charged to the budget (bounded_match.c).
void keep_open_bounded_patterns(lua_State *L);

/// Replaces the global xpcall with one whose message handler is skipped once
/// the budget is spent (Lua runs handlers of hook-raised errors with hooks off).
void keep_open_budgeted_xpcall(lua_State *L);

/// Replaces coroutine.resume, wrap and close with versions that record the
/// running thread (so that an interrupt reaches code inside coroutines), that
/// end the resumer with the budget error once it is spent, that never close a
/// coroutine the hook stopped, and that bound how deeply closing nests (a
/// Lua 5.4.4 bug overflows the C stack).
void keep_open_tracked_coroutines(lua_State *L);

/// Bytes of source text handed to the parser at a time.
#define KEEP_LOAD_PIECE 4096
/// Bytes of source charged as one instruction unit.
#define KEEP_LOAD_BYTES_PER_UNIT 8
/// The largest chunk `load` (and the host) compiles.
#define KEEP_MAX_CHUNK ((size_t)16 << 20)
/// keep_load_buffer's status when the budget stopped the compilation.
#define KEEP_LOAD_STOPPED 100

/// [-0, +(0|1)] lua_load of `data`, handed to the parser in pieces that are
/// each charged to the budget of the call in progress (so the deadline,
/// instruction budget and interrupts stop a slow compilation), and refused
/// above KEEP_MAX_CHUNK. Pushes the function or an error message and returns
/// Lua's status, or pushes nothing and returns KEEP_LOAD_STOPPED when the
/// budget stopped it.
int keep_load_buffer(lua_State *L, const char *data, size_t size, const char *chunkname, const char *mode);

/// [-0, +0] Checks the function on top of the stack (a compiled chunk) for
/// code that Lua 5.4.4 miscompiles in a way that can crash or leak
/// (bug_guards.c). Returns what is wrong, or NULL.
const char *keep_check_compiled(lua_State *L);

/// Replaces the global load with one that compiles through keep_load_buffer
/// (a function chunk is gathered first, within the same size limit).
void keep_open_budgeted_load(lua_State *L);

/// Wraps the C library functions whose work is not seen by the count hook
/// (string.rep, upper, lower, reverse, byte, format; utf8.*; table.concat,
/// insert, remove, move, sort, unpack; collectgarbage) so that each call is
/// first charged to the budget in proportion to the work it is about to do
/// (charged_library.c).
void keep_open_charged_library(lua_State *L);

// MARK: - Numbers

/// strtod in the C locale, whatever the process locale (JSON numbers use '.').
double keep_strtod_c(const char *text);

#endif
