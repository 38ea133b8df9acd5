/*
 * world.c: world control; see world.h and WORLD.md. Commands are rows of one table that
 * also feeds the help reply. Every reply is built in a growing buffer and queued to its
 * client; a client that does not read its replies is dropped, never waited for.
 * It never prints: what a command does to a lock shows in the lock's own event log.
 */
#include "world.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/hex.h"
#include "../../lib/log.h"
#include "garage.h"

#define WORLD_TOKENS_MAX 5         /* spot, up to three words, one more to catch extras */
#define WORLD_CUT_BYTE_DEFAULT 8   /* bytes of the torn write that get programmed */
#define WORLD_CUT_BYTE_MAX 65535

/* ---- reply buffer ---- */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) LOG_PRINTF(2, 3);

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t want;
	char *np;
	int n;

	for (;;) {
		if (b->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		want = b->cap * 2 > b->len + (size_t)n + 1 ? b->cap * 2 : b->len + (size_t)n + 256;
		np = realloc(b->p, want);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = want;
	}
}

/* A JSON string; names come from the garage file but are escaped all the same. */
static void sb_json_string(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "\"");
}

static void put_error(struct sbuf *b, const char *code, const char *detail)
{
	sb_printf(b, "{\"ok\":false,\"error\":\"%s\",\"detail\":", code);
	sb_json_string(b, detail);
	sb_printf(b, "}");
}

/* ---- state ---- */

static const char *const world_barrier_names[] = {
	[PROTO_BARRIER_UP] = "up",
	[PROTO_BARRIER_DOWN] = "down",
	[PROTO_BARRIER_LOWERING] = "lowering",
	[PROTO_BARRIER_RAISING] = "raising",
	[PROTO_BARRIER_JAMMED] = "jammed",
};

static const char *barrier_name(uint8_t b)
{
	if (b >= sizeof(world_barrier_names) / sizeof(world_barrier_names[0]))
		return "unknown";
	return world_barrier_names[b];
}

static const char *jbool(bool v)
{
	return v ? "true" : "false";
}

/* The state fields of one lock, without braces. */
static void put_state_fields(struct sbuf *b, const struct world_lock *wl)
{
	struct lock_state st;

	lock_get_state(wl->lock, &st);
	sb_printf(b, "\"spot\":%u,\"name\":", (unsigned)wl->spot_id);
	sb_json_string(b, wl->name);
	sb_printf(b, ",\"provisioned\":%s,\"locked\":%s,\"barrier\":\"%s\",\"occupied\":%s,"
		  "\"battery\":%u,\"unlock_count\":%u,\"time\":%u,\"events\":%u,\"creds\":%u,"
		  "\"shares\":%u,\"halted\":%s",
		  jbool(st.provisioned), jbool(st.barrier == PROTO_BARRIER_UP),
		  barrier_name(st.barrier), jbool(st.occupied), (unsigned)st.battery,
		  (unsigned)st.total_unlocks, (unsigned)st.time, (unsigned)st.event_head,
		  (unsigned)st.creds, (unsigned)st.shares, jbool(st.halted));
}

/* ---- lock commands ---- */

typedef void (*world_act_fn)(struct world *w, struct world_lock *wl, uint32_t n);
typedef void (*world_reply_fn)(struct world *w, struct world_lock *wl, struct sbuf *b);

static void act_car_present(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	(void)n;
	sim_hw_set_car(&wl->host->hw, true);
}

static void act_car_absent(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	(void)n;
	sim_hw_set_car(&wl->host->hw, false);
}

static void act_battery(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	sim_hw_set_battery(&wl->host->hw, (uint8_t)n);
}

static void act_jam(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	(void)n;
	port_host_advance(wl->host);
	sim_hw_set_jam(&wl->host->hw, true);
}

static void act_unjam(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	(void)n;
	/* Time spent jammed must not count as travel: bring the model up to now first. */
	port_host_advance(wl->host);
	sim_hw_set_jam(&wl->host->hw, false);
}

static void act_force(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	(void)n;
	port_host_advance(wl->host);
	sim_hw_force_down(&wl->host->hw);
}

static void act_power_cut(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)w;
	sim_hw_arm_cut(&wl->host->hw, 1, n);
}

static void act_reboot(struct world *w, struct world_lock *wl, uint32_t n)
{
	(void)n;
	w->reboot(w->ctx, wl);
}

static void reply_state(struct world *w, struct world_lock *wl, struct sbuf *b)
{
	(void)w;
	sb_printf(b, "{\"ok\":true,");
	put_state_fields(b, wl);
	sb_printf(b, "}");
}

static void reply_pubkey(struct world *w, struct world_lock *wl, struct sbuf *b)
{
	uint8_t pub[64];
	char hex[2 * sizeof(pub) + 1];

	(void)w;
	if (port_device_key_pubkey(&wl->host->devkey, pub) != 0 ||
	    hex_encode(pub, sizeof(pub), hex, sizeof(hex)) < 0) {
		put_error(b, "no_device_key", "the lock has no device key yet; it makes one "
			  "when it boots: send 'SPOT reboot' and try again");
		return;
	}
	sb_printf(b, "{\"ok\":true,\"spot\":%u,\"device_pub\":\"%s\"}", (unsigned)wl->spot_id,
		  hex);
}

struct world_cmd {
	const char *usage;    /* the words after SPOT; the word N takes a number */
	uint32_t max;         /* the largest N */
	uint32_t dflt;        /* the number given to act when the usage has no N */
	world_act_fn act;     /* changes the world, or NULL */
	world_reply_fn reply;
	const char *help;
};

static const struct world_cmd world_cmds[] = {
	{ "state", 0, 0, NULL, reply_state, "the lock's state" },
	{ "car present", 0, 0, act_car_present, reply_state, "a car stands over the spot" },
	{ "car absent", 0, 0, act_car_absent, reply_state, "no car over the spot" },
	{ "battery N", 100, 0, act_battery, reply_state, "the battery holds N percent, 0 to 100" },
	{ "jam", 0, 0, act_jam, reply_state, "the barrier is blocked: the motor turns, it "
	  "does not move" },
	{ "unjam", 0, 0, act_unjam, reply_state, "the barrier moves freely again" },
	{ "force", 0, 0, act_force, reply_state, "someone pushes the barrier down by hand" },
	{ "power-cut", 0, WORLD_CUT_BYTE_DEFAULT, act_power_cut, reply_state,
	  "power is lost during the next flash write, after 8 of its bytes; the lock then "
	  "reboots from its flash" },
	{ "power-cut N", WORLD_CUT_BYTE_MAX, 0, act_power_cut, reply_state,
	  "likewise, after N bytes of the next flash write" },
	{ "pubkey", 0, 0, NULL, reply_pubkey, "the lock's device public key, 128 hex digits" },
	{ "reboot", 0, 0, act_reboot, reply_state, "power the lock off and on; it boots from "
	  "its flash and its clients are disconnected" },
};
#define WORLD_CMDS (sizeof(world_cmds) / sizeof(world_cmds[0]))

/* ---- garage commands ---- */

static void reply_list(struct world *w, struct sbuf *b)
{
	size_t i;

	sb_printf(b, "{\"ok\":true,\"locks\":[");
	for (i = 0; i < w->count; i++) {
		sb_printf(b, "%s{", i > 0 ? "," : "");
		put_state_fields(b, &w->locks[i]);
		sb_printf(b, "}");
	}
	sb_printf(b, "]}");
}

static void reply_help(struct world *w, struct sbuf *b);

struct world_global {
	const char *name;
	void (*reply)(struct world *w, struct sbuf *b);
	const char *help;
};

static const struct world_global world_globals[] = {
	{ "list", reply_list, "every lock's state" },
	{ "help", reply_help, "this list of commands" },
};
#define WORLD_GLOBALS (sizeof(world_globals) / sizeof(world_globals[0]))

static void reply_help(struct world *w, struct sbuf *b)
{
	size_t i;

	(void)w;
	sb_printf(b, "{\"ok\":true,\"commands\":[");
	for (i = 0; i < WORLD_CMDS; i++) {
		sb_printf(b, "%s{\"usage\":\"SPOT %s\",\"help\":", i > 0 ? "," : "",
			  world_cmds[i].usage);
		sb_json_string(b, world_cmds[i].help);
		sb_printf(b, "}");
	}
	for (i = 0; i < WORLD_GLOBALS; i++) {
		sb_printf(b, ",{\"usage\":\"%s\",\"help\":", world_globals[i].name);
		sb_json_string(b, world_globals[i].help);
		sb_printf(b, "}");
	}
	sb_printf(b, "]}");
}

/* ---- parsing ---- */

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, need, k;
	uint32_t cp, min;

	while (i < len) {
		unsigned char c = s[i++];

		if (c < 0x80)
			continue;
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1Fu, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, cp = c & 0x0Fu, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, cp = c & 0x07u, min = 0x10000;
		else
			return false;
		if (need > len - i)
			return false;
		for (k = 0; k < need; k++) {
			if ((s[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i++] & 0x3Fu);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

static bool has_control(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return true;
	return false;
}

static size_t tokenize(char *s, char **tok)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || n == WORLD_TOKENS_MAX)
			return n;
		tok[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

/*
 * Matches tok[0..n) against a usage. Returns 1 (a match; *num set), 0 (no match) or -1
 * (the words match but N is not a number up to c->max).
 */
static int cmd_match(const struct world_cmd *c, char **tok, size_t n, uint32_t *num)
{
	char words[64];
	char *word[WORLD_TOKENS_MAX];
	size_t nw, i;
	int r = 1;

	snprintf(words, sizeof(words), "%s", c->usage);
	nw = tokenize(words, word);
	if (nw != n)
		return 0;
	*num = c->dflt;
	for (i = 0; i < n; i++) {
		if (strcmp(word[i], "N") != 0) {
			if (strcmp(word[i], tok[i]) != 0)
				return 0;
		} else if (garage_parse_u32(tok[i], num) != 0 || *num > c->max) {
			r = -1;
		}
	}
	return r;
}

static bool same_verb(const struct world_cmd *c, const char *verb)
{
	size_t len = strlen(verb);

	return strncmp(c->usage, verb, len) == 0 && (c->usage[len] == '\0' || c->usage[len] == ' ');
}

static void usage_of_verb(struct sbuf *b, const char *verb, const char *lead)
{
	char detail[512];
	size_t i, off;

	off = (size_t)snprintf(detail, sizeof(detail), "%s", lead);
	for (i = 0; i < WORLD_CMDS && off < sizeof(detail); i++)
		if (same_verb(&world_cmds[i], verb))
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, " 'SPOT %s'",
						world_cmds[i].usage);
	put_error(b, "bad_argument", detail);
}

static void run_cmd(struct world *w, struct world_lock *wl, const struct world_cmd *c,
		    uint32_t num, struct sbuf *b)
{
	if (c->act != NULL) {
		c->act(w, wl, num);
		/* The lock notices at once, as its sensor interrupt would make it. */
		if (wl->host->hw.powered)
			lock_tick(wl->lock);
		if (!wl->host->hw.powered)
			w->reboot(w->ctx, wl);
	}
	c->reply(w, wl, b);
}

static void lock_command(struct world *w, struct world_lock *wl, char **tok, size_t n,
			 struct sbuf *b)
{
	char detail[160];
	uint32_t num;
	size_t i;
	int m;

	if (n == 0) {
		put_error(b, "missing_command", "name a command after the spot ID, e.g. "
			  "'101 state'; send 'help' for the list");
		return;
	}
	for (i = 0; i < WORLD_CMDS; i++) {
		m = cmd_match(&world_cmds[i], tok, n, &num);
		if (m == 1) {
			run_cmd(w, wl, &world_cmds[i], num, b);
			return;
		}
		if (m < 0) {
			snprintf(detail, sizeof(detail), "N in 'SPOT %s' is a whole number from 0 "
				 "to %u", world_cmds[i].usage, (unsigned)world_cmds[i].max);
			put_error(b, "bad_number", detail);
			return;
		}
	}
	for (i = 0; i < WORLD_CMDS; i++) {
		if (same_verb(&world_cmds[i], tok[0])) {
			usage_of_verb(b, tok[0], "wrong arguments; use");
			return;
		}
	}
	put_error(b, "unknown_command", "no such command; send 'help' for the list");
}

static struct world_lock *find_lock(struct world *w, uint32_t spot)
{
	size_t i;

	for (i = 0; i < w->count; i++)
		if (w->locks[i].spot_id == spot)
			return &w->locks[i];
	return NULL;
}

static void dispatch(struct world *w, char **tok, size_t n, struct sbuf *b)
{
	struct world_lock *wl;
	uint32_t spot;
	size_t i;

	for (i = 0; i < WORLD_GLOBALS; i++) {
		if (strcmp(tok[0], world_globals[i].name) != 0)
			continue;
		if (n != 1)
			put_error(b, "bad_argument", "this command takes no arguments");
		else
			world_globals[i].reply(w, b);
		return;
	}
	if (tok[0][0] < '0' || tok[0][0] > '9') {
		put_error(b, "unknown_command", "no such command; start with a spot ID "
			  "('101 state') or send 'help' for the list");
		return;
	}
	if (garage_parse_u32(tok[0], &spot) != 0 || spot == 0) {
		put_error(b, "bad_number", "a spot ID is a whole number from 1 to 4294967295");
		return;
	}
	wl = find_lock(w, spot);
	if (wl == NULL) {
		put_error(b, "unknown_spot", "no lock has this spot ID; send 'list' to see "
			  "the garage's locks");
		return;
	}
	lock_command(w, wl, tok + 1, n - 1, b);
}

char *world_execute(struct world *w, const char *line, size_t len)
{
	char copy[WORLD_LINE_MAX + 1];
	char *tok[WORLD_TOKENS_MAX];
	struct sbuf b = { NULL, 0, 0, false };
	size_t n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > WORLD_LINE_MAX)
		put_error(&b, "line_too_long", "a command is at most 256 bytes; send one "
			  "command per line");
	else if (!utf8_valid((const unsigned char *)line, len))
		put_error(&b, "not_utf8", "the line is not UTF-8 text; send commands as "
			  "plain ASCII words");
	else if (has_control(line, len))
		put_error(&b, "bad_character", "the line holds control characters; send "
			  "commands as plain words separated by spaces");
	else {
		memcpy(copy, line, len);
		copy[len] = '\0';
		n = tokenize(copy, tok);
		if (n == 0)
			put_error(&b, "empty_command", "the line is empty; send 'help' for the "
				  "list of commands");
		else
			dispatch(w, tok, n, &b);
	}
	sb_printf(&b, "\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- the socket side ---- */

void world_init(struct world *w, struct world_lock *locks, size_t count,
		world_reboot_fn reboot, void *ctx)
{
	size_t i;

	memset(w, 0, sizeof(*w));
	w->locks = locks;
	w->count = count;
	w->reboot = reboot;
	w->ctx = ctx;
	w->listen_fd = -1;
	for (i = 0; i < WORLD_CLIENTS; i++)
		w->client[i].fd = -1;
}

void world_attach(struct world *w, int listen_fd)
{
	w->listen_fd = listen_fd;
}

static int set_nonblocking_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void client_close(struct world_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queues a reply; false when the client has too much unread and must go. */
static bool client_queue(struct world_client *c, const char *s)
{
	size_t len = strlen(s);
	char *np;

	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > WORLD_OUT_MAX - c->out_len)
		return false;
	np = realloc(c->out, c->out_len + len);
	if (np == NULL)
		return false;
	c->out = np;
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	return true;
}

static bool client_reply(struct world *w, struct world_client *c, const char *line,
			 size_t len)
{
	char *reply = world_execute(w, line, len);
	bool ok = reply != NULL && client_queue(c, reply);

	free(reply);
	return ok;
}

/* Writes what it can of the queued replies; false when the client is gone. */
static bool client_flush(struct world_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return true;
}

/* Takes one byte of input; false when the client must go. */
static bool client_byte(struct world *w, struct world_client *c, char ch)
{
	if (ch == '\n') {
		bool ok = c->overlong || client_reply(w, c, c->line, c->have);

		c->have = 0;
		c->overlong = false;
		return ok;
	}
	if (c->overlong)
		return true;
	if (c->have == sizeof(c->line)) {
		/* Too long even with a CR: answer now, once, and skip to the next newline. */
		c->overlong = true;
		c->have = 0;
		return client_reply(w, c, c->line, sizeof(c->line));
	}
	c->line[c->have++] = ch;
	return true;
}

static bool client_read(struct world *w, struct world_client *c)
{
	char buf[512];
	ssize_t n, i;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
	if (n == 0) {
		/* A last command without a newline still gets its answer. */
		c->eof = true;
		if (c->have > 0 && !c->overlong && !client_reply(w, c, c->line, c->have))
			return false;
		c->have = 0;
		return true;
	}
	for (i = 0; i < n; i++)
		if (!client_byte(w, c, buf[i]))
			return false;
	return true;
}

static void accept_client(struct world *w)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"busy\",\"detail\":\"too many "
				   "world clients; close one and connect again\"}\n";
	int fd = accept(w->listen_fd, NULL, NULL);
	size_t i;

	if (fd < 0)
		return;
	if (set_nonblocking_cloexec(fd) != 0) {
		close(fd);
		return;
	}
	for (i = 0; i < WORLD_CLIENTS; i++) {
		if (w->client[i].fd < 0) {
			memset(&w->client[i], 0, sizeof(w->client[i]));
			w->client[i].fd = fd;
			return;
		}
	}
	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
	close(fd);
}

size_t world_poll_fds(const struct world *w, struct pollfd *fds)
{
	size_t n = 0, i;

	if (w->listen_fd >= 0) {
		fds[n].fd = w->listen_fd;
		fds[n++].events = POLLIN;
	}
	for (i = 0; i < WORLD_CLIENTS; i++) {
		const struct world_client *c = &w->client[i];

		if (c->fd < 0)
			continue;
		fds[n].fd = c->fd;
		/* Replies pending: read no more commands until they are written. */
		fds[n++].events = c->out_len > c->out_off ? POLLOUT : c->eof ? 0 : POLLIN;
	}
	return n;
}

static struct world_client *client_of(struct world *w, int fd)
{
	size_t i;

	for (i = 0; i < WORLD_CLIENTS; i++)
		if (w->client[i].fd == fd)
			return &w->client[i];
	return NULL;
}

static void client_event(struct world *w, struct world_client *c, short revents)
{
	bool ok = (revents & POLLERR) == 0;

	if (ok && (revents & (POLLIN | POLLHUP)) && !c->eof && c->out_len == c->out_off)
		ok = client_read(w, c);
	if (ok)
		ok = client_flush(c);
	if (!ok || (c->eof && c->out_len == c->out_off))
		client_close(c);
}

void world_poll_handle(struct world *w, const struct pollfd *fds, size_t n)
{
	struct world_client *c;
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == w->listen_fd) {
			accept_client(w);
			continue;
		}
		c = client_of(w, fds[i].fd);
		if (c != NULL)
			client_event(w, c, fds[i].revents);
	}
}

void world_close(struct world *w)
{
	size_t i;

	for (i = 0; i < WORLD_CLIENTS; i++)
		client_close(&w->client[i]);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	w->listen_fd = -1;
}
