// ncursesw from Debian's libncursesw5-dev. Module maps cannot define macros, so the
// wide-character switches are set here, before the header (else cchar_t, setcchar and
// wget_wch are missing). C globals and function-like macros are wrapped in static
// inline functions because Swift 6 cannot use them directly.
#ifndef DIALCLIP_CNCURSESW_SHIM_H
#define DIALCLIP_CNCURSESW_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
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
#endif
