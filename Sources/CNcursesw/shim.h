// ncursesw from Debian's libncursesw5-dev. Module maps cannot define macros, so the
// wide-character switches are set here, before the header (else cchar_t, setcchar and
// wget_wch are missing). C globals and function-like macros are wrapped in static
// inline functions because Swift 6 cannot use them directly.
#ifndef DIALCLIP_CNCURSESW_SHIM_H
#define DIALCLIP_CNCURSESW_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <langinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline WINDOW *dc_stdscr(void) { return stdscr; }
static inline int dc_lines(void) { return LINES; }
static inline int dc_cols(void) { return COLS; }
static inline int dc_colors(void) { return COLORS; }
static inline int dc_color_pairs(void) { return COLOR_PAIRS; }
static inline attr_t dc_color_pair(int n) { return (attr_t)COLOR_PAIR(n); }
static inline int dc_key_resize(void) { return KEY_RESIZE; }
static inline attr_t dc_a_bold(void) { return A_BOLD; }
static inline attr_t dc_a_reverse(void) { return A_REVERSE; }
static inline attr_t dc_a_dim(void) { return A_DIM; }
static inline attr_t dc_a_underline(void) { return A_UNDERLINE; }
static inline attr_t dc_a_normal(void) { return A_NORMAL; }
static inline int dc_key_code_yes(void) { return KEY_CODE_YES; }
static inline int dc_key_f(int n) { return KEY_F(n); }

/* The codeset of the current LC_CTYPE ("UTF-8" when wide output works). */
static inline const char *dc_codeset(void) { return nl_langinfo(CODESET); }

/* One cell with an extended colour pair (pairs above 255 need the opts pointer). */
static inline int dc_setcchar(cchar_t *cell, const wchar_t *text, attr_t attrs, int pair) {
    return setcchar(cell, text, attrs, 0, &pair);
}

/* SIGINT/SIGTERM/SIGHUP while the TUI runs. The first signal only records itself: the
   event loop (which never blocks longer than its input timeout) sees it, restores the
   terminal with endwin() and returns normally. A second signal means the loop is stuck:
   restore the terminal from the handler and leave at once. Only the Swift file that
   installs the handlers may call these (each Swift file gets its own copy of statics). */
/* Function-local statics: Swift's importer emits inline function bodies (with their
   statics) but not file-scope variables declared in a header. */
static inline volatile sig_atomic_t *dc_signal_flag(void) {
    static volatile sig_atomic_t flag = 0;
    return &flag;
}
static inline struct sigaction *dc_saved_actions(void) {
    static struct sigaction saved[3];
    return saved;
}
static inline void dc_signal_handler(int sig) {
    volatile sig_atomic_t *flag = dc_signal_flag();
    if (*flag) {
        endwin();
        _exit(128 + sig);
    }
    *flag = sig;
}
static inline void dc_install_signal_handlers(void) {
    struct sigaction sa;
    struct sigaction *saved = dc_saved_actions();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dc_signal_handler;
    sigemptyset(&sa.sa_mask);
    *dc_signal_flag() = 0;
    sigaction(SIGINT, &sa, &saved[0]);
    sigaction(SIGTERM, &sa, &saved[1]);
    sigaction(SIGHUP, &sa, &saved[2]);
}
static inline void dc_restore_signal_handlers(void) {
    struct sigaction *saved = dc_saved_actions();
    sigaction(SIGINT, &saved[0], 0);
    sigaction(SIGTERM, &saved[1], 0);
    sigaction(SIGHUP, &saved[2], 0);
}
static inline int dc_pending_signal(void) { return *dc_signal_flag(); }
#endif
