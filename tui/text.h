/*
 * text.h: UTF-8 text measured in terminal columns, for a console whose spot and owner
 * names may be Chinese (two columns a character). Pure functions over the process's
 * locale (LC_CTYPE must be a UTF-8 one for anything beyond ASCII); no curses here, so
 * that the model and the tests use them without a terminal.
 */
#ifndef PARK_TUI_TEXT_H
#define PARK_TUI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The columns `s` takes on a terminal: each character's wcwidth(), where a byte that is
 * not valid in the locale's encoding and a control character count as one column each
 * (they are shown as '?'). NULL is 0.
 */
int text_width(const char *s);

/*
 * Copies the longest prefix of `s` that fits in `cols` columns into out[0..cap), whole
 * characters only, with invalid bytes and control characters replaced by '?'. When s
 * was cut and `ellipsis` is true, the last column holds "…" (or "~" when the locale
 * cannot show it). Returns the columns used. out is always NUL-terminated (cap >= 1).
 */
int text_fit(const char *s, int cols, bool ellipsis, char *out, size_t cap);

/*
 * Whether `needle` occurs in `hay`, ignoring ASCII case (other characters must match
 * exactly: "b1" finds "B1-01", "东区" finds "东区-01"). An empty needle matches.
 */
bool text_contains(const char *hay, const char *needle);

/* Whether s holds nothing but spaces, tabs and (UTF-8) ideographic spaces. NULL is blank. */
bool text_blank(const char *s);

/* Removes the last character (a whole UTF-8 sequence) of s in place; "" stays "". */
void text_backspace(char *s);

/*
 * Appends the UTF-8 form of the wide character `wc` to s (a buffer of cap bytes holding
 * a string) when it fits whole. Returns 0, or -1 (s unchanged) when full or wc is a
 * control character.
 */
int text_append_wchar(char *s, size_t cap, unsigned long wc);

#endif
