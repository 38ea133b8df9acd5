/*
 * mapsvg.h: a spot map (lib/sitemap.h) as a standalone SVG 1.1 picture, for
 * `parkctl map --svg FILE`: every level as a panel (side by side or stacked), lanes,
 * entrances and exits, spots coloured by state and named, the marked spot outlined, the
 * way in and the way out as polylines in two colours, a title and a legend. Text is
 * XML-escaped; numbers are written in the C locale whatever the program's locale.
 */
#ifndef PARK_MAPSVG_H
#define PARK_MAPSVG_H

#include <stdbool.h>
#include <stdio.h>

#include "../lib/sitemap.h"

#define MAPSVG_SCALE_DEFAULT 12.0 /* pixels per metre */
#define MAPSVG_SCALE_MAX 1000.0

enum mapsvg_error {
	MAPSVG_E_INVALID = 1, /* no map, a scale out of range, a path too long */
	MAPSVG_E_IO = 2,      /* writing failed; errno says why */
};

struct mapsvg_options {
	const char *title; /* UTF-8; NULL: the site's name, and the marked spot's if any */
	bool stacked;      /* levels one under another, not side by side */
	double scale;      /* pixels per metre, 0 .. MAPSVG_SCALE_MAX; 0: the default */
};

/*
 * Writes the SVG document of `map` to f (opts may be NULL: the defaults).
 * 0, -MAPSVG_E_INVALID or -MAPSVG_E_IO (f's error flag set or a write failed).
 */
int mapsvg_write(FILE *f, const struct sitemap *map, const struct mapsvg_options *opts);

/*
 * Writes the SVG document to `path` atomically: into a temporary file beside it
 * (PATH.XXXXXX), flushed and fsync'd, then renamed over path and the directory synced.
 * On failure path is as it was and no temporary file is left. The file is mode 0644.
 * 0, -MAPSVG_E_INVALID or -MAPSVG_E_IO (errno says why).
 */
int mapsvg_save(const char *path, const struct sitemap *map, const struct mapsvg_options *opts);

#endif
