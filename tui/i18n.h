/*
 * i18n.h: the console's messages go through gettext, text domain "parking" (bound in
 * main.c): _() translates now, N_() marks a string in a table for translating later.
 * po/POTFILES lists the files that use them.
 */
#ifndef PARK_TUI_I18N_H
#define PARK_TUI_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) s

#endif
