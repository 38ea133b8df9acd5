/*
 * text.c: UTF-8 text measured in terminal columns (see text.h). Decoding goes through
 * the locale (mbrtowc, wcwidth), so a UTF-8 locale shows Chinese names at their width
 * and any other locale shows '?' for what it cannot decode; the strings themselves are
 * always the server's UTF-8.
 */
#include "text.h"

#include <string.h>
#include <wchar.h>

#define TEXT_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

/*
 * Decodes the character at s (n bytes left): its length in bytes (>= 1), its columns in
 * *cols, and whether it is shown as it is (false: as one '?').
 */
static size_t text_next(const char *s, size_t n, int *cols, bool *ok)
{
	mbstate_t st;
	wchar_t wc;
	size_t len;
	int w;

	memset(&st, 0, sizeof(st));
	len = mbrtowc(&wc, s, n, &st);
	if (len == (size_t)-1 || len == (size_t)-2 || len == 0) {
		*cols = 1;
		*ok = false;
		return 1;
	}
	w = wcwidth(wc);
	*ok = w >= 0;
	*cols = w >= 0 ? w : 1;
	return len;
}

int text_width(const char *s)
{
	size_t n, len;
	int w = 0, cols;
	bool ok;

	if (s == NULL)
		return 0;
	n = strlen(s);
	while (n > 0) {
		len = text_next(s, n, &cols, &ok);
		w += cols;
		s += len;
		n -= len;
	}
	return w;
}

/* Whether the locale can show the ellipsis in one column. */
static bool text_ellipsis_ok(void)
{
	int cols;
	bool ok;

	text_next(TEXT_ELLIPSIS, strlen(TEXT_ELLIPSIS), &cols, &ok);
	return ok && cols == 1;
}

int text_fit(const char *s, int cols, bool ellipsis, char *out, size_t cap)
{
	const char *mark = text_ellipsis_ok() ? TEXT_ELLIPSIS : "~";
	size_t n = s != NULL ? strlen(s) : 0, len, off = 0;
	int used = 0, c;
	bool ok, cut = false;

	if (cap == 0)
		return 0;
	while (n > 0) {
		len = text_next(s, n, &c, &ok);
		if (used + c > cols || off + (ok ? len : 1) >= cap) {
			cut = true;
			break;
		}
		if (ok)
			memcpy(out + off, s, len);
		else
			out[off] = '?';
		off += ok ? len : 1;
		used += c;
		s += len;
		n -= len;
	}
	out[off] = '\0';
	if (!cut || !ellipsis || cols < 1)
		return used;
	/* Take characters back until the mark fits in the last column. */
	while (off > 0 && (used + 1 > cols || off + strlen(mark) >= cap)) {
		text_backspace(out);
		off = strlen(out);
		used = text_width(out);
	}
	if (used + 1 <= cols && off + strlen(mark) < cap) {
		memcpy(out + off, mark, strlen(mark) + 1);
		used++;
	}
	return used;
}

static char text_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool text_contains(const char *hay, const char *needle)
{
	size_t i, j, hn, nn;

	if (needle == NULL || needle[0] == '\0')
		return true;
	if (hay == NULL)
		return false;
	hn = strlen(hay);
	nn = strlen(needle);
	for (i = 0; i + nn <= hn; i++) {
		for (j = 0; j < nn && text_lower(hay[i + j]) == text_lower(needle[j]); j++)
			;
		if (j == nn)
			return true;
	}
	return false;
}

bool text_blank(const char *s)
{
	static const char ideographic_space[] = "\xe3\x80\x80"; /* U+3000 */

	if (s == NULL)
		return true;
	while (*s != '\0') {
		if (*s == ' ' || *s == '\t')
			s++;
		else if (strncmp(s, ideographic_space, 3) == 0)
			s += 3;
		else
			return false;
	}
	return true;
}

void text_backspace(char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return;
	n--;
	/* Back over continuation bytes 10xxxxxx to the sequence's first byte. */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

int text_append_wchar(char *s, size_t cap, unsigned long wc)
{
	unsigned char b[4];
	size_t n, len = strlen(s);

	if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0) || wc > 0x10ffff ||
	    (wc >= 0xd800 && wc <= 0xdfff))
		return -1;
	if (wc < 0x80) {
		b[0] = (unsigned char)wc;
		n = 1;
	} else if (wc < 0x800) {
		b[0] = (unsigned char)(0xc0 | (wc >> 6));
		b[1] = (unsigned char)(0x80 | (wc & 0x3f));
		n = 2;
	} else if (wc < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (wc >> 12));
		b[1] = (unsigned char)(0x80 | ((wc >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (wc & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (wc >> 18));
		b[1] = (unsigned char)(0x80 | ((wc >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((wc >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (wc & 0x3f));
		n = 4;
	}
	if (len + n >= cap)
		return -1;
	memcpy(s + len, b, n);
	s[len + n] = '\0';
	return 0;
}
