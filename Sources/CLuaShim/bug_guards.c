// Guards for Lua 5.4.4 code-generation bugs that Debian's package keeps
// (fixed upstream in 5.4.5/5.4.6) and that plain Lua source can reach.
//
// Why here: the bugs are in the compiler, so the only place to catch them
// without patching Lua is the compiled code. Every chunk Keep compiles is
// dumped (lua_dump, stripped) and its instructions are checked, in every
// function it contains:
//
// - 'break' may not properly close a variable in a 'for' loop (5.4.4 bug 6):
//   a generic for whose body breaks out of the scope of a loop variable that
//   a closure captured gets `CLOSE A+4` after its TFORLOOP A instead of
//   `CLOSE A`; the loop's closing value stays in the to-be-closed list and a
//   later to-be-closed variable writes out of bounds (a segfault).
// - Wrong code generation for constants in bitwise operations (bug 3): in a
//   function with more than 255 constants, `1 ~ (a or 3)` reads a register
//   that was never set, handing the script a stale value left on the stack
//   by an earlier call (another user's data, in a shared state).
#include "CLuaShim.h"

#include <stdlib.h>
#include <string.h>

// Lua 5.4's opcode numbers (lopcodes.h).
enum {
    OP_BAND = 41, OP_BOR = 42, OP_BXOR = 43,
    OP_CLOSE = 54, OP_TFORLOOP = 77,
};

#define GET_OPCODE(i) ((int)((i) & 0x7F))
#define GETARG_A(i) ((int)(((i) >> 7) & 0xFF))

typedef struct Dump {
    unsigned char *bytes;
    size_t size, capacity;
} Dump;

static int collect(lua_State *L, const void *p, size_t size, void *ud) {
    (void)L;
    Dump *dump = (Dump *)ud;
    if (dump->size + size > dump->capacity) {
        size_t capacity = dump->capacity ? dump->capacity : 4096;
        while (capacity < dump->size + size) capacity *= 2;
        unsigned char *grown = realloc(dump->bytes, capacity);
        if (grown == NULL) return 1;
        dump->bytes = grown;
        dump->capacity = capacity;
    }
    memcpy(dump->bytes + dump->size, p, size);
    dump->size += size;
    return 0;
}

typedef struct Reader {
    const unsigned char *p, *end;
    int broken;
    const char *problem;
} Reader;

static unsigned char byte(Reader *r) {
    if (r->p >= r->end) { r->broken = 1; return 0; }
    return *r->p++;
}

// ldump.c's dumpSize: 7 bits a byte, most significant first, the last byte
// marked with 0x80.
static size_t varint(Reader *r) {
    size_t value = 0;
    unsigned char b;
    do {
        b = byte(r);
        value = (value << 7) | (b & 0x7F);
    } while (!(b & 0x80) && !r->broken);
    return value;
}

static void skip(Reader *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) { r->broken = 1; r->p = r->end; return; }
    r->p += n;
}

static void skip_string(Reader *r) {
    size_t size = varint(r);
    if (size > 0) skip(r, size - 1);
}

static void check_function(Reader *r, int depth) {
    if (depth > 250) { r->broken = 1; return; }
    skip_string(r);          // source (absent when stripped)
    varint(r); varint(r);    // linedefined, lastlinedefined
    skip(r, 3);              // numparams, is_vararg, maxstacksize
    size_t count = varint(r);
    if (r->broken || count > (size_t)(r->end - r->p) / 4) { r->broken = 1; return; }
    const unsigned char *code = r->p;
    skip(r, count * 4);
    size_t constants = varint(r);
    int bitwise = 0;
    for (size_t i = 0; i < count && !r->problem; i++) {
        uint32_t instruction;
        memcpy(&instruction, code + 4 * i, 4);
        int op = GET_OPCODE(instruction);
        if (op == OP_BAND || op == OP_BOR || op == OP_BXOR) bitwise = 1;
        if (op == OP_TFORLOOP && i + 1 < count) {
            uint32_t next;
            memcpy(&next, code + 4 * (i + 1), 4);
            if (GET_OPCODE(next) == OP_CLOSE && GETARG_A(next) > GETARG_A(instruction) + 3)
                r->problem = "a 'break' out of a generic 'for' whose loop variable a closure captured "
                             "(Lua 5.4.4 miscompiles it and can crash); move the closure or the break "
                             "into a function of its own";
        }
    }
    if (bitwise && constants > 255 && !r->problem)
        r->problem = "a bitwise operator in a function with more than 255 constants (Lua 5.4.4 can "
                     "compile it to read a stale value); move the operation or the constants into "
                     "another function";
    for (size_t i = 0; i < constants && !r->broken; i++) {
        switch (byte(r)) {
        case LUA_TNUMBER | (0 << 4): skip(r, 8); break;   // float
        case LUA_TNUMBER | (1 << 4): skip(r, 8); break;   // integer
        case LUA_TSTRING | (0 << 4):
        case LUA_TSTRING | (1 << 4): skip_string(r); break;
        default: break;                                    // nil, false, true
        }
    }
    skip(r, varint(r) * 3);  // upvalues: instack, idx, kind
    size_t protos = varint(r);
    for (size_t i = 0; i < protos && !r->broken && !r->problem; i++) check_function(r, depth + 1);
    if (r->problem) return;
    skip(r, varint(r));                                       // lineinfo
    size_t absolute = varint(r);                              // abslineinfo
    for (size_t i = 0; i < absolute && !r->broken; i++) { varint(r); varint(r); }
    size_t locals = varint(r);                                // locvars
    for (size_t i = 0; i < locals && !r->broken; i++) { skip_string(r); varint(r); varint(r); }
    size_t names = varint(r);                                 // upvalue names
    for (size_t i = 0; i < names && !r->broken; i++) skip_string(r);
}

const char *keep_check_compiled(lua_State *L) {
    Dump dump = {NULL, 0, 0};
    if (lua_dump(L, collect, &dump, 1) != 0) {
        free(dump.bytes);
        return "cannot check the compiled chunk (out of memory)";
    }
    // Header: signature (4), version, format, LUAC_DATA (6), three sizes,
    // LUAC_INT (8), LUAC_NUM (8), then the main function's upvalue count.
    Reader reader = {dump.bytes, dump.bytes + dump.size, 0, NULL};
    skip(&reader, 4 + 1 + 1 + 6 + 3 + 8 + 8 + 1);
    check_function(&reader, 0);
    free(dump.bytes);
    if (reader.problem) return reader.problem;
    return reader.broken ? "cannot check the compiled chunk (unexpected dump format)" : NULL;
}
