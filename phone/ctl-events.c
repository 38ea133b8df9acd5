/*
 * ctl-events.c: parkctl's events verb: the recent events of your spots, and with
 * --follow every new one as it happens, until interrupted (claims 8-9).
 */
#include <libintl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "parkctl.h"

#define _(s) gettext(s)
#define N_(s) s

struct events_state {
	bool follow;
};

static const struct cli_option events_opts[] = {
	{ "follow", 'f', NULL, N_("keep printing new events as they come") },
};

static int events_option(void *state, int row, const char *arg)
{
	(void)row;
	(void)arg;
	((struct events_state *)state)->follow = true;
	return 0;
}

/* One {"kind","event"} line: as JSON, or as a sentence with the time. */
static int print_event(const struct parkctl *pc, json_object *line)
{
	json_object *ev = NULL;
	char when[32] = "";
	long long t;
	time_t tt;
	struct tm tm;

	if (pc->json) {
		puts(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
		return fflush(stdout) == 0 ? 0 : 1;
	}
	(void)json_object_object_get_ex(line, "event", &ev);
	t = parkctl_int(ev, "time");
	if (t < 0)
		t = parkctl_int(ev, "received_at");
	tt = (time_t)t;
	if (t >= 0 && localtime_r(&tt, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf(_("%s  spot %lld  %s"), when, parkctl_int(ev, "spot"), parkctl_str(line, "kind"));
	if (parkctl_int(ev, "user_id") > 0)
		printf(_("  (user %lld)"), parkctl_int(ev, "user_id"));
	printf("\n");
	return fflush(stdout) == 0 ? 0 : 1;
}

static int follow(struct parkctl *pc)
{
	json_object *line;
	char *text;
	int k;

	while ((k = ctl_read_line(pc->reader, &text, -1)) == CTL_READ_LINE ||
	       k == CTL_READ_TOOLONG) {
		if (k != CTL_READ_LINE || (line = json_tokener_parse(text)) == NULL)
			continue;
		k = print_event(pc, line);
		json_object_put(line);
		if (k != 0)
			return 1;
	}
	fprintf(stderr, _("parkctl: parkphoned ended the event stream\n"));
	return 1;
}

static int run_events(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct events_state *s = state;
	json_object *req = parkctl_request("events"), *r, *list = NULL;
	size_t i, n;
	int rc = 0;

	(void)args;
	(void)nargs;
	if (s->follow)
		json_object_object_add(req, "follow", json_object_new_boolean(1));
	r = parkctl_call(pc, req);
	if (r == NULL)
		return 1;
	(void)json_object_object_get_ex(r, "events", &list);
	n = list != NULL ? json_object_array_length(list) : 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = print_event(pc, json_object_array_get_idx(list, i));
	if (n == 0 && !pc->json && !s->follow)
		printf(_("No events yet.\n"));
	json_object_put(r);
	return rc == 0 && s->follow ? follow(pc) : rc;
}

const struct parkctl_verb parkctl_verb_events = {
	"events", "", N_("Show the events of your spots"), 0, 0,
	events_opts, 1, events_option, sizeof(struct events_state), run_events,
};
