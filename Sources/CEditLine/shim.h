// CEditLine: libedit (Debian: libedit-dev) for the REPL's line editing.
//
// el_set, el_get and history are variadic, which Swift cannot call; each
// wrapper below forwards one of their operations. `history` itself is passed
// to el_set as a function pointer, which only C can name.

#ifndef KEEP_CEDITLINE_SHIM_H
#define KEEP_CEDITLINE_SHIM_H

#include <histedit.h>
#include <stdio.h>
#include <wchar.h>

/// An editor on the standard streams (Swift 6 cannot name C's `stdin` globals).
static inline EditLine *keepel_init(const char *program) { return el_init(program, stdin, stdout, stderr); }
static inline int keepel_set_emacs(EditLine *el) { return el_set(el, EL_EDITOR, "emacs"); }
typedef char *(*keepel_prompt_t)(EditLine *);
static inline int keepel_set_prompt(EditLine *el, keepel_prompt_t prompt) { return el_set(el, EL_PROMPT, prompt); }
/// While editing, Ctrl-C arrives as a key (bound by the REPL) instead of as
/// SIGINT, so it stays in order with the keys typed around it. Only the
/// interrupt character is disabled (`intr=` sets it, `-intr` keeps it so
/// when libedit re-reads the terminal's characters): Ctrl-Z and Ctrl-\ still
/// suspend and quit.
static inline int keepel_keep_ctrl_c_in_band(EditLine *el) { return el_set(el, EL_SETTY, "-d", "intr=", "-intr", NULL); }
static inline int keepel_set_history(EditLine *el, History *h) { return el_set(el, EL_HIST, history, h); }
static inline int keepel_set_getc(EditLine *el, el_rfunc_t read) { return el_set(el, EL_GETCFN, read); }
static inline int keepel_set_signal(EditLine *el, int handle) { return el_set(el, EL_SIGNAL, handle); }
static inline int keepel_set_clientdata(EditLine *el, void *data) { return el_set(el, EL_CLIENTDATA, data); }
static inline void *keepel_clientdata(EditLine *el) {
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    return data;
}
typedef unsigned char (*keepel_function_t)(EditLine *, int);
static inline int keepel_add_function(EditLine *el, const char *name, const char *help, keepel_function_t f) {
    return el_set(el, EL_ADDFN, name, help, f);
}
static inline int keepel_bind(EditLine *el, const char *key, const char *name) {
    return el_set(el, EL_BIND, key, name, NULL);
}

static inline int keephist_setsize(History *h, int size) {
    HistEvent ev;
    return history(h, &ev, H_SETSIZE, size);
}
static inline int keephist_setunique(History *h, int unique) {
    HistEvent ev;
    return history(h, &ev, H_SETUNIQUE, unique);
}
static inline int keephist_enter(History *h, const char *line) {
    HistEvent ev;
    return history(h, &ev, H_ENTER, line);
}
/// Returns the number of entries read, or -1.
static inline int keephist_load(History *h, const char *path) {
    HistEvent ev;
    return history(h, &ev, H_LOAD, path);
}
/// Returns the number of entries written, or -1.
static inline int keephist_save(History *h, const char *path) {
    HistEvent ev;
    return history(h, &ev, H_SAVE, path);
}

#endif
