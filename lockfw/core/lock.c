/*
 * lock.c: the lock core's entry points: boot, the radio dispatch table, the plain
 * requests (hello, challenge, status, log, provision), sensors and timers, and the
 * helpers the other core modules share (event logging, replies, device signatures).
 * Unlock requests live in operate.c, management messages in mgmt.c.
 */
#include "lock.h"

#include <string.h>

#include "barrier.h"
#include "config.h"
#include "layout.h"
#include "mgmt.h"
#include "operate.h"
#include "revocation.h"
#include "walltime.h"

#define LOCK_IDLE_TICK_MS 1000
#define LOCK_MOVING_TICK_MS 20
#define LOCK_BATTERY_OK 25 /* low-battery alarm re-arms above this */

typedef int (*lock_handler_fn)(struct lock *l, uint8_t conn, const struct proto_msg *m);

/* ---- shared helpers ---- */

void lock_halt(struct lock *l)
{
	l->halted = true;
	if (l->motion.active)
		l->port->motor_drive(l->port->ctx, PORT_MOTOR_STOP);
	l->motion.active = false;
}

static void send_frame(struct lock *l, uint8_t conn, const uint8_t *frame, size_t len)
{
	struct frag_tx tx;
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int n;

	if (frag_tx_init(&tx, frame, len, l->conn[conn].mtu) != 0)
		return;
	while ((n = frag_tx_next(&tx, frag, sizeof(frag))) > 0)
		if (l->port->radio_send(l->port->ctx, conn, frag, (size_t)n) != 0)
			return;
}

void lock_send(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	int len;

	if (conn >= LOCK_CONNS || !l->conn[conn].up)
		return;
	len = proto_encode(m, l->tx, sizeof(l->tx));
	if (len > 0)
		send_frame(l, conn, l->tx, (size_t)len);
}

void lock_send_error(struct lock *l, uint8_t conn, uint8_t tag, uint8_t req_type, int status)
{
	struct proto_msg m;

	m.type = PROTO_ERROR;
	m.tag = tag;
	m.u.error.code = (uint8_t)-status;
	m.u.error.req_type = req_type;
	lock_send(l, conn, &m);
}

void lock_send_result(struct lock *l, uint8_t conn, uint8_t tag, uint8_t op, int status,
		      uint16_t uses_left)
{
	struct proto_msg m;

	m.type = PROTO_RESULT;
	m.tag = tag;
	m.u.result.status = (uint8_t)-status;
	m.u.result.op = op;
	m.u.result.barrier = l->barrier;
	m.u.result.uses_left = uses_left;
	m.u.result.lock_time = walltime_now(l);
	lock_send(l, conn, &m);
}

int lock_sign(struct lock *l, const uint8_t *tbs, size_t len, uint8_t sig[PROTO_SIG_LEN])
{
	const struct port *p = l->port;
	struct port_buf part = { tbs, len };
	uint8_t digest[PROTO_HASH_LEN];

	if (p->sha256(p->ctx, &part, 1, digest) != 0 || p->device_sign(p->ctx, digest, sig) != 0)
		return -PROTO_E_INTERNAL;
	return 0;
}

int lock_log(struct lock *l, uint8_t kind, uint8_t arg8, uint16_t arg16, uint32_t user_id,
	     uint32_t key_id)
{
	struct proto_msg m;
	struct proto_event *e = &m.u.event;
	uint8_t i;

	if (l->halted)
		return -PROTO_E_FLASH;
	memset(&m, 0, sizeof(m));
	e->time = walltime_now(l);
	e->kind = kind;
	e->arg8 = arg8;
	e->arg16 = arg16;
	e->user_id = user_id;
	e->key_id = key_id;
	if (evlog_append(&l->log, e) != 0) {
		lock_halt(l);
		return -PROTO_E_FLASH;
	}
	if (l->port->event_logged != NULL) {
		uint8_t raw[PROTO_EVENT_LEN];

		proto_event_encode(raw, e);
		l->port->event_logged(l->port->ctx, raw);
	}
	m.type = PROTO_EVENT;
	for (i = 0; i < LOCK_CONNS; i++)
		lock_send(l, i, &m);
	return 0;
}

/* ---- requests ---- */

static void fill_info(const struct lock *l, struct proto_info *info, uint16_t mtu)
{
	memset(info, 0, sizeof(*info));
	info->version = PROTO_VERSION;
	info->mtu = mtu;
	info->flags = (uint8_t)((l->cfg.provisioned ? PROTO_INFO_PROVISIONED : 0) |
				(l->cfg.time_known ? PROTO_INFO_TIME_SET : 0));
	info->site_id = l->cfg.site_id;
	info->spot_id = l->cfg.spot_id;
	info->fw_version = LOCK_FW_VERSION;
}

static int reply_info(struct lock *l, uint8_t conn, uint8_t tag)
{
	struct proto_msg r;

	r.type = PROTO_INFO;
	r.tag = tag;
	fill_info(l, &r.u.info, l->conn[conn].mtu);
	if (l->port->device_pubkey(l->port->ctx, r.u.info.device_pub) != 0)
		return -PROTO_E_INTERNAL;
	lock_send(l, conn, &r);
	return 0;
}

static int on_hello(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	uint16_t mine = l->port->radio_mtu ? l->port->radio_mtu : PROTO_MTU_MAX;

	l->conn[conn].mtu = m->u.hello.mtu < mine ? m->u.hello.mtu : mine;
	return reply_info(l, conn, m->tag);
}

static int on_challenge_req(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	const struct port *p = l->port;
	struct lock_conn *c = &l->conn[conn];
	struct proto_msg r;
	uint8_t fresh[32], count[4];
	struct port_buf parts[2] = { { count, sizeof(count) }, { fresh, sizeof(fresh) } };

	/* A weak or stuck random source alone can never repeat a challenge. */
	wire_store_u32(count, ++l->challenge_count);
	if (p->random(p->ctx, fresh, sizeof(fresh)) != 0 ||
	    p->hmac_sha256(p->ctx, l->boot_secret, sizeof(l->boot_secret), parts, 2,
			   c->challenge) != 0)
		return -PROTO_E_INTERNAL;
	c->challenge_live = true;
	c->challenge_ms = p->clock_ms(p->ctx);
	r.type = PROTO_CHALLENGE;
	r.tag = m->tag;
	memcpy(r.u.challenge.nonce, c->challenge, PROTO_NONCE_LEN);
	r.u.challenge.lock_time = walltime_known(l) ? walltime_now(l) : 0;
	r.u.challenge.ttl_s = LOCK_CHALLENGE_TTL_S;
	lock_send(l, conn, &r);
	return 0;
}

static int on_operate(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	return operate_key(l, conn, m->tag, &m->u.operate);
}

static int on_operate_shared(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	return operate_shared(l, conn, m->tag, &m->u.operate_shared);
}

static int on_status_req(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	struct proto_msg r;
	struct proto_status *s = &r.u.status;
	struct lock_state st;
	uint8_t tbs[64];
	struct wire_writer w;

	lock_get_state(l, &st);
	memset(&r, 0, sizeof(r));
	r.type = PROTO_STATUS;
	r.tag = m->tag;
	s->site_id = st.site_id;
	s->spot_id = st.spot_id;
	s->barrier = st.barrier;
	s->occupied = st.occupied;
	s->battery = st.battery;
	s->flags = (uint8_t)((st.provisioned ? PROTO_INFO_PROVISIONED : 0) |
			     (l->cfg.time_known ? PROTO_INFO_TIME_SET : 0));
	s->lock_time = st.time;
	s->event_head = st.event_head;
	s->mgmt_seq = st.mgmt_seq;
	s->revoke_serial = st.revoke_serial;
	s->total_unlocks = st.total_unlocks;
	s->creds = st.creds;
	s->shares = st.shares;
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_status(&w, m->u.status_req.nonce, s);
	if (w.error || lock_sign(l, tbs, w.off, s->sig) != 0)
		return -PROTO_E_INTERNAL;
	lock_send(l, conn, &r);
	return 0;
}

/* Fills a LOG page from `from`; returns the chain hash after its last event in `last`. */
static void fill_log(struct lock *l, const struct proto_log_req *q, struct proto_log *g,
		     uint8_t last[PROTO_HASH_LEN])
{
	uint8_t before[PROTO_HASH_LEN];
	uint32_t seq = evlog_first_from(&l->log, q->from_seq);

	g->head_seq = l->log.head_seq;
	g->count = 0;
	memcpy(g->anchor, l->log.head_hash, PROTO_HASH_LEN);
	memcpy(last, l->log.head_hash, PROTO_HASH_LEN);
	for (; seq != 0 && seq <= l->log.head_seq && g->count < q->max; seq++) {
		struct proto_event *e = &g->ev[g->count];
		struct port_buf parts[2];
		uint8_t raw[PROTO_EVENT_LEN];

		if (evlog_read(&l->log, seq, e, before) != 0)
			continue; /* a burned sequence number: the chain skips it too */
		if (g->count == 0)
			memcpy(g->anchor, before, PROTO_HASH_LEN);
		proto_event_encode(raw, e);
		parts[0].p = before;
		parts[0].len = PROTO_HASH_LEN;
		parts[1].p = raw;
		parts[1].len = sizeof(raw);
		if (l->port->sha256(l->port->ctx, parts, 2, last) != 0)
			break;
		g->count++;
	}
}

static int on_log_req(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	struct proto_msg r;
	uint8_t last[PROTO_HASH_LEN], tbs[128];
	struct wire_writer w;

	r.type = PROTO_LOG;
	r.tag = m->tag;
	fill_log(l, &m->u.log_req, &r.u.log, last);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_log(&w, m->u.log_req.nonce, l->cfg.site_id, l->cfg.spot_id, r.u.log.head_seq,
		      r.u.log.count, last);
	if (w.error || lock_sign(l, tbs, w.off, r.u.log.sig) != 0)
		return -PROTO_E_INTERNAL;
	lock_send(l, conn, &r);
	return 0;
}

static int on_provision(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	const struct proto_provision *p = &m->u.provision;
	struct lock_config next = l->cfg;

	if (l->cfg.provisioned)
		return -PROTO_E_PROVISIONED;
	if (p->site_id == 0 || p->spot_id == 0)
		return -PROTO_E_VALUE;
	next.provisioned = true;
	next.site_id = p->site_id;
	next.spot_id = p->spot_id;
	memcpy(next.site_pub, p->site_pub, PROTO_PUBKEY_LEN);
	if (config_save(&next, &l->store) != 0) {
		lock_halt(l);
		return -PROTO_E_FLASH;
	}
	l->cfg = next;
	lock_log(l, PROTO_EV_MGMT, 0, 0, 0, p->spot_id);
	return reply_info(l, conn, m->tag);
}

static int on_mgmt(struct lock *l, uint8_t conn, const struct proto_msg *m)
{
	return mgmt_handle(l, conn, m->tag, &m->u.mgmt);
}

struct lock_handler {
	uint8_t type;
	bool needs_site;      /* refused with PROTO_E_UNPROVISIONED until provisioned */
	bool answers_errors;  /* the handler replies to its own refusals (RESULT, ACK) */
	lock_handler_fn fn;
};

static const struct lock_handler lock_handlers[] = {
	{ PROTO_HELLO, false, false, on_hello },
	{ PROTO_CHALLENGE_REQ, true, false, on_challenge_req },
	{ PROTO_OPERATE, true, true, on_operate },
	{ PROTO_OPERATE_SHARED, true, true, on_operate_shared },
	{ PROTO_STATUS_REQ, false, false, on_status_req },
	{ PROTO_LOG_REQ, false, false, on_log_req },
	{ PROTO_PROVISION, false, false, on_provision },
	{ PROTO_MGMT, true, true, on_mgmt },
};

static const struct lock_handler *find_handler(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(lock_handlers) / sizeof(lock_handlers[0]); i++)
		if (lock_handlers[i].type == type)
			return &lock_handlers[i];
	return NULL;
}

static int dispatch(struct lock *l, uint8_t conn, const uint8_t *frame, size_t len)
{
	struct proto_msg m;
	const struct lock_handler *h;
	int r;

	memset(&m, 0, sizeof(m));
	r = proto_decode(frame, len, &m);
	h = r == 0 ? find_handler(m.type) : NULL;
	if (r == 0 && h == NULL)
		r = -PROTO_E_TYPE; /* a reply type sent to the lock */
	if (r == 0 && h->needs_site && !l->cfg.provisioned)
		r = -PROTO_E_UNPROVISIONED;
	if (r == 0) {
		r = h->fn(l, conn, &m);
		if (h->answers_errors)
			return r;
	}
	if (r < 0)
		lock_send_error(l, conn, m.tag, m.type, r);
	return r;
}

/* ---- entry points ---- */

static int mount(struct lock *l)
{
	const struct port *p = l->port;
	uint32_t area_pages, log_pages;

	if (p->flash_page_size == 0)
		return -PROTO_E_FLASH;
	area_pages = (LAYOUT_STORE_AREA_BYTES + p->flash_page_size - 1) / p->flash_page_size;
	log_pages = evlog_pages_needed(p->flash_page_size);
	if (log_pages == 0 || 2 * area_pages + log_pages > p->flash_pages)
		return -PROTO_E_FLASH;
	if (store_init(&l->store, p, 0, area_pages) != 0)
		return -PROTO_E_FLASH;
	return evlog_init(&l->log, p, 2 * area_pages, log_pages);
}

/*
 * A stored transfer share is the commit point of its transfer: a power cut between the
 * share's record and the parent's may have left the parent unmarked. Finish it now.
 */
static int finish_transfers(struct lock *l)
{
	int i, c;

	for (i = 0; i < SHARE_SLOTS; i++) {
		const struct share *sh = &l->shares.slot[i];

		if (!sh->used || sh->mode != PROTO_SHARE_TRANSFER)
			continue;
		c = credential_find(&l->creds, sh->sharer_id, sh->parent_key_id);
		if (c >= 0 && credential_mark_transferred(&l->creds, &l->store, c) != 0)
			return -PROTO_E_FLASH;
	}
	return 0;
}

static int load_tables(struct lock *l)
{
	if (config_load(&l->cfg, &l->store) != 0 || credential_load(&l->creds, &l->store) != 0 ||
	    share_load(&l->shares, &l->store) != 0 || revocation_load(l) != 0 ||
	    lockout_load(&l->lockouts, &l->store) != 0 || finish_transfers(l) != 0)
		return -PROTO_E_FLASH;
	if (l->creds.total_seen > l->cfg.total_unlocks)
		l->cfg.total_unlocks = l->creds.total_seen;
	if (l->shares.total_seen > l->cfg.total_unlocks)
		l->cfg.total_unlocks = l->shares.total_seen;
	return 0;
}

static void read_sensors(struct lock *l)
{
	l->occupied = l->port->proximity_read(l->port->ctx);
	l->battery = l->port->battery_percent(l->port->ctx);
}

int lock_boot(struct lock *l, const struct port *port)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->port = port;
	r = mount(l);
	if (r == 0)
		r = load_tables(l);
	if (r != 0)
		return r;
	if (port->device_key_init(port->ctx) != 0 ||
	    port->random(port->ctx, l->boot_secret, sizeof(l->boot_secret)) != 0)
		return -PROTO_E_INTERNAL;
	if (walltime_boot(l) != 0)
		return -PROTO_E_FLASH;
	barrier_boot(l);
	read_sensors(l);
	l->low_battery = l->battery <= LOCK_LOW_BATTERY;
	r = lock_log(l, PROTO_EV_BOOT, l->barrier, l->battery, 0, LOCK_FW_VERSION);
	if (r == 0 && l->low_battery)
		r = lock_log(l, PROTO_EV_LOW_BATTERY, 0, l->battery, 0, 0);
	return r;
}

void lock_connect(struct lock *l, uint8_t conn)
{
	if (conn >= LOCK_CONNS)
		return;
	memset(&l->conn[conn], 0, sizeof(l->conn[conn]));
	l->conn[conn].up = true;
	l->conn[conn].mtu = PROTO_MTU_MIN;
}

void lock_disconnect(struct lock *l, uint8_t conn)
{
	if (conn >= LOCK_CONNS)
		return;
	memset(&l->conn[conn], 0, sizeof(l->conn[conn]));
	if (l->motion.active && l->motion.conn == conn)
		l->motion.conn = LOCK_NO_CONN;
}

int lock_receive(struct lock *l, uint8_t conn, const uint8_t *frag, size_t len)
{
	struct lock_conn *c;
	int r;

	if (conn >= LOCK_CONNS || !l->conn[conn].up || l->halted)
		return -PROTO_E_INTERNAL;
	c = &l->conn[conn];
	r = frag_rx_feed(&c->rx, frag, len);
	if (r < 0) {
		lock_send_error(l, conn, 0, 0, r);
		return r;
	}
	if (r == 0)
		return 0;
	r = dispatch(l, conn, c->rx.buf, c->rx.total);
	frag_rx_reset(&c->rx);
	return r;
}

/* The lock raises its barrier by itself (no requester to answer). */
static void auto_raise(struct lock *l)
{
	struct lock_motion m = { 0 };

	m.op = PROTO_OP_LOCK;
	m.conn = LOCK_NO_CONN;
	m.how = PROTO_HOW_AUTO;
	m.uses_left = PROTO_USES_LEFT_UNLIMITED;
	barrier_start(l, &m);
}

/*
 * An open spot closes again when its car leaves, and when no car has come to it for
 * LOCK_RELOCK_IDLE_MS (unlocked and never used, forced down, or down after a reboot).
 */
static void watch_open_spot(struct lock *l, bool car_left)
{
	uint64_t now = l->port->clock_ms(l->port->ctx);

	if (l->barrier != PROTO_BARRIER_DOWN || l->occupied || l->motion.active) {
		l->open_empty_ms = 0;
		return;
	}
	if (l->open_empty_ms == 0)
		l->open_empty_ms = now;
	if (car_left || now - l->open_empty_ms >= LOCK_RELOCK_IDLE_MS) {
		l->open_empty_ms = 0;
		auto_raise(l);
	}
}

static void watch_sensors(struct lock *l)
{
	bool was = l->occupied;
	bool car_left;

	read_sensors(l);
	car_left = was && !l->occupied;
	if (l->occupied != was)
		lock_log(l, l->occupied ? PROTO_EV_CAR_ARRIVED : PROTO_EV_CAR_LEFT, 0, 0, 0, 0);
	watch_open_spot(l, car_left);
	if (!l->low_battery && l->battery <= LOCK_LOW_BATTERY) {
		l->low_battery = true;
		lock_log(l, PROTO_EV_LOW_BATTERY, 0, l->battery, 0, 0);
	} else if (l->low_battery && l->battery > LOCK_BATTERY_OK) {
		l->low_battery = false;
	}
}

void lock_tick(struct lock *l)
{
	if (l->halted)
		return;
	barrier_tick(l);
	watch_sensors(l);
	if (walltime_tick(l) != 0 || lockout_expire(&l->lockouts, &l->store, walltime_now(l)) != 0)
		lock_halt(l);
}

uint32_t lock_next_tick_ms(const struct lock *l)
{
	uint64_t checkpoint = walltime_next_ms(l);

	if (l->motion.active)
		return LOCK_MOVING_TICK_MS;
	return checkpoint < LOCK_IDLE_TICK_MS ? (uint32_t)checkpoint : LOCK_IDLE_TICK_MS;
}

uint32_t lock_time(const struct lock *l)
{
	return walltime_known(l) ? walltime_now(l) : 0;
}

void lock_get_state(const struct lock *l, struct lock_state *out)
{
	memset(out, 0, sizeof(*out));
	out->provisioned = l->cfg.provisioned;
	out->site_id = l->cfg.site_id;
	out->spot_id = l->cfg.spot_id;
	out->barrier = l->barrier;
	out->occupied = l->occupied;
	out->battery = l->battery;
	out->time = lock_time(l);
	out->total_unlocks = l->cfg.total_unlocks;
	out->event_head = l->log.head_seq;
	out->mgmt_seq = l->cfg.mgmt_seq;
	out->revoke_serial = l->cfg.revoke_serial;
	out->creds = l->creds.count;
	out->shares = l->shares.count;
	out->halted = l->halted;
}
