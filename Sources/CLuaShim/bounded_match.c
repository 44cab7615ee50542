// Lua 5.4 pattern matching (manual §6.4.1) with a step budget.
//
// Why this exists: string.find/match/gmatch/gsub run their backtracking
// matcher in C, where the count hook never fires, so a pathological pattern
// ("a?a?a?…aaa…" against "aaa…") could run for hours inside one call. This
// matcher has the same semantics and charges every matching step to the call's
// instruction budget (checking time and interrupts too), so such a call stops
// with a `limit` error like any other runaway script.
#include "CLuaShim.h"

#include <ctype.h>
#include <string.h>

#define ESCAPE '%'
#define SPECIALS "^$*+?.([%-"
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define MAX_DEPTH 200
#define LUA_MAXCAPTURES 32  // as lstrlib.c
#define STEP_BATCH 4096

typedef struct Matcher {
    const char *src_init;
    const char *src_end;
    const char *p_end;
    lua_State *L;
    int depth;
    int level;
    int steps;  // left until the next charge to the budget
    struct { const char *init; ptrdiff_t len; } capture[LUA_MAXCAPTURES];
} Matcher;

static const char *match(Matcher *m, const char *s, const char *p);

static void charge(Matcher *m) {
    if (--m->steps > 0) return;
    m->steps = STEP_BATCH;
    keep_budget_charge(m->L, STEP_BATCH);
}

static int class_end_error(Matcher *m, const char *what) {
    return luaL_error(m->L, "malformed pattern (%s)", what);
}

static const char *class_end(Matcher *m, const char *p) {
    char c = *p++;
    if (c == ESCAPE) {
        if (p == m->p_end) class_end_error(m, "ends with '%'");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^') p++;
        do {  // the first character of a set may be ']'
            if (p == m->p_end) class_end_error(m, "missing ']'");
            if (*(p++) == ESCAPE && p < m->p_end) p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int match_class(int c, int cl) {
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    case 'z': res = (c == 0); break;  // deprecated, but still in Lua 5.4
    default: return cl == c;
    }
    if (isupper(cl)) res = !res;
    return res;
}

// p at '[', ec at the closing ']'.
static int match_set(int c, const char *p, const char *ec) {
    int found = 1;
    if (*(p + 1) == '^') {
        found = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == ESCAPE) {
            p++;
            if (match_class(c, (unsigned char)*p)) return found;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)*(p - 2) <= c && c <= (unsigned char)*p) return found;
        } else if ((unsigned char)*p == c) {
            return found;
        }
    }
    return !found;
}

static int single_match(Matcher *m, const char *s, const char *p, const char *ep) {
    if (s >= m->src_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case ESCAPE: return match_class(c, (unsigned char)*(p + 1));
    case '[': return match_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *match_balance(Matcher *m, const char *s, const char *p) {
    if (p >= m->p_end - 1) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p) return NULL;
    int open = *p, close = *(p + 1), depth = 1;
    while (++s < m->src_end) {
        charge(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *max_expand(Matcher *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t i = 0;
    while (single_match(m, s + i, p, ep)) {
        charge(m);
        i++;
    }
    while (i >= 0) {  // try the longest expansion first, then shorter ones
        const char *res = match(m, s + i, ep + 1);
        if (res) return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(Matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *res = match(m, s, ep + 1);
        if (res != NULL) return res;
        if (!single_match(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *start_capture(Matcher *m, const char *s, const char *p, int what) {
    if (m->level >= LUA_MAXCAPTURES) luaL_error(m->L, "too many captures");
    m->capture[m->level].init = s;
    m->capture[m->level].len = what;
    m->level++;
    const char *res = match(m, s, p);
    if (res == NULL) m->level--;
    return res;
}

static int capture_to_close(Matcher *m) {
    for (int level = m->level - 1; level >= 0; level--)
        if (m->capture[level].len == CAP_UNFINISHED) return level;
    return luaL_error(m->L, "invalid pattern capture");
}

static const char *end_capture(Matcher *m, const char *s, const char *p) {
    int l = capture_to_close(m);
    m->capture[l].len = s - m->capture[l].init;
    const char *res = match(m, s, p);
    if (res == NULL) m->capture[l].len = CAP_UNFINISHED;
    return res;
}

static int check_capture(Matcher *m, int l) {
    l -= '1';
    if (l < 0 || l >= m->level || m->capture[l].len == CAP_UNFINISHED)
        return luaL_error(m->L, "invalid capture index %%%d", l + 1);
    return l;
}

static const char *match_capture(Matcher *m, const char *s, int l) {
    l = check_capture(m, l);
    size_t len = (size_t)m->capture[l].len;
    if ((size_t)(m->src_end - s) >= len && memcmp(m->capture[l].init, s, len) == 0) return s + len;
    return NULL;
}

static const char *match(Matcher *m, const char *s, const char *p) {
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    while (p != m->p_end) {
        charge(m);
        const char *ep;
        switch (*p) {
        case '(':
            s = *(p + 1) == ')' ? start_capture(m, s, p + 2, CAP_POSITION)
                                : start_capture(m, s, p + 1, CAP_UNFINISHED);
            goto done;
        case ')':
            s = end_capture(m, s, p + 1);
            goto done;
        case '$':
            if (p + 1 != m->p_end) goto literal;  // '$' not at the end is an ordinary character
            s = (s == m->src_end) ? s : NULL;
            goto done;
        case ESCAPE:
            switch (*(p + 1)) {
            case 'b':
                s = match_balance(m, s, p + 2);
                if (s == NULL) goto done;
                p += 4;
                continue;
            case 'f': {
                p += 2;
                if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
                ep = class_end(m, p);
                int previous = (s == m->src_init) ? '\0' : (unsigned char)*(s - 1);
                int current = (s < m->src_end) ? (unsigned char)*s : '\0';
                if (!match_set(previous, p, ep - 1) && match_set(current, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = match_capture(m, s, (unsigned char)*(p + 1));
                if (s == NULL) goto done;
                p += 2;
                continue;
            default:
                goto literal;
            }
        default:
        literal:
            ep = class_end(m, p);
            if (!single_match(m, s, p, ep)) {
                if (*ep == '*' || *ep == '?' || *ep == '-') {  // accept the empty match
                    p = ep + 1;
                    continue;
                }
                s = NULL;
                goto done;
            }
            switch (*ep) {
            case '?': {
                const char *res = match(m, s + 1, ep + 1);
                if (res != NULL) {
                    s = res;
                    goto done;
                }
                p = ep + 1;
                continue;
            }
            case '+': s = max_expand(m, s + 1, p, ep); goto done;
            case '*': s = max_expand(m, s, p, ep); goto done;
            case '-': s = min_expand(m, s, p, ep); goto done;
            default: s++; p = ep; continue;
            }
        }
    }
done:
    m->depth++;
    return s;
}

// MARK: - Captures

static size_t get_one_capture(Matcher *m, int i, const char *s, const char *e, const char **cap) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return (size_t)(e - s);
    }
    ptrdiff_t capl = m->capture[i].len;
    *cap = m->capture[i].init;
    if (capl == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    else if (capl == CAP_POSITION) lua_pushinteger(m->L, (m->capture[i].init - m->src_init) + 1);
    return (size_t)capl;
}

static void push_one_capture(Matcher *m, int i, const char *s, const char *e) {
    const char *cap;
    ptrdiff_t l = (ptrdiff_t)get_one_capture(m, i, s, e, &cap);
    if (l != CAP_POSITION) lua_pushlstring(m->L, cap, (size_t)l);
}

static int push_captures(Matcher *m, const char *s, const char *e) {
    int n = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_one_capture(m, i, s, e);
    return n;
}

static void prepare(Matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    m->L = L;
    m->src_init = s;
    m->src_end = s + ls;
    m->p_end = p + lp;
    m->steps = STEP_BATCH;
}

static void reset(Matcher *m) {
    m->level = 0;
    m->depth = MAX_DEPTH;
}

static size_t relative_start(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

static int has_specials(const char *p, size_t l) {
    size_t upto = 0;
    do {
        if (strpbrk(p + upto, SPECIALS)) return 1;
        upto += strlen(p + upto) + 1;  // a pattern may contain '\0'
    } while (upto <= l);
    return 0;
}

// Plain search, O(ls × lp) at worst: each candidate position is charged.
static const char *find_plain(lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    if (lp == 0) return s;
    int64_t pending = 0;
    if (lp > ls) return NULL;
    const char *init;
    lp--;
    ls -= lp;
    while (ls > 0 && (init = (const char *)memchr(s, *p, ls)) != NULL) {
        init++;
        pending += 1 + (int64_t)(lp / 32);
        if (pending > STEP_BATCH) {
            keep_budget_charge(L, pending);
            pending = 0;
        }
        if (memcmp(init, p + 1, lp) == 0) return init - 1;
        ls -= (size_t)(init - s);
        s = init;
    }
    return NULL;
}

// MARK: - Library functions

static int find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = relative_start(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *found = find_plain(L, s + init, ls - init, p, lp);
        if (found) {
            lua_pushinteger(L, (found - s) + 1);
            lua_pushinteger(L, (found - s) + (lua_Integer)lp);
            return 2;
        }
    } else {
        Matcher m;
        const char *s1 = s + init;
        int anchor = (*p == '^');
        if (anchor) {
            p++;
            lp--;
        }
        prepare(&m, L, s, ls, p, lp);
        do {
            reset(&m);
            const char *e = match(&m, s1, p);
            if (e != NULL) {
                if (find) {
                    lua_pushinteger(L, (s1 - s) + 1);
                    lua_pushinteger(L, e - s);
                    return push_captures(&m, NULL, 0) + 2;
                }
                return push_captures(&m, s1, e);
            }
            charge(&m);
        } while (s1++ < m.src_end && !anchor);
    }
    luaL_pushfail(L);
    return 1;
}

static int bounded_find(lua_State *L) { return find_or_match(L, 1); }
static int bounded_match(lua_State *L) { return find_or_match(L, 0); }

typedef struct GmatchState {
    const char *src;
    const char *p;
    const char *lastmatch;
    Matcher m;
} GmatchState;

static int gmatch_step(lua_State *L) {
    GmatchState *gm = (GmatchState *)lua_touserdata(L, lua_upvalueindex(3));
    gm->m.L = L;
    for (const char *src = gm->src; src <= gm->m.src_end; src++) {
        reset(&gm->m);
        const char *e = match(&gm->m, src, gm->p);
        if (e != NULL && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->m, src, e);
        }
        charge(&gm->m);
    }
    return 0;
}

static int bounded_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = relative_start(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);  // keep the strings alive as upvalues
    GmatchState *gm = (GmatchState *)lua_newuserdatauv(L, sizeof(GmatchState), 0);
    if (init > ls) init = ls + 1;  // start after the end: no match
    prepare(&gm->m, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_step, 3);
    return 1;
}

static void add_string_replacement(Matcher *m, luaL_Buffer *b, const char *s, const char *e) {
    size_t l;
    lua_State *L = m->L;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = (const char *)memchr(news, ESCAPE, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (*p == ESCAPE) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            const char *cap;
            ptrdiff_t resl = (ptrdiff_t)get_one_capture(m, *p - '1', s, e, &cap);
            if (resl == CAP_POSITION) luaL_addvalue(b);
            else luaL_addlstring(b, cap, (size_t)resl);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESCAPE);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

// Returns whether the replacement changed the text.
static int add_value(Matcher *m, luaL_Buffer *b, const char *s, const char *e, int tr) {
    lua_State *L = m->L;
    switch (tr) {
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);  // C calling Lua: errors unwind C frames only
        break;
    }
    case LUA_TTABLE:
        push_one_capture(m, 0, s, e);
        lua_gettable(L, 3);
        break;
    default:
        add_string_replacement(m, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int bounded_gsub(lua_State *L) {
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    int anchor = (*p == '^');
    lua_Integer n = 0;
    int changed = 0;
    Matcher m;
    luaL_Buffer b;
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    prepare(&m, L, src, srcl, p, lp);
    while (n < max_s) {
        reset(&m);
        const char *e = match(&m, src, p);
        if (e != NULL && e != lastmatch) {
            n++;
            changed = add_value(&m, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        charge(&m);
        if (anchor) break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void keep_open_bounded_patterns(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"find", bounded_find},
        {"match", bounded_match},
        {"gmatch", bounded_gmatch},
        {"gsub", bounded_gsub},
        {NULL, NULL},
    };
    lua_getglobal(L, LUA_STRLIBNAME);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}
