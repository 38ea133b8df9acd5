/*
 * locklink.c: one lock as the gateway sees it, over lib/lockconn (see locklink.h). What
 * the lock says is believed only after its device signature checks out against the key
 * the server gave: acks through signer_check_ack(), log pages through signer_check_log()
 * and the chain. EVENT notifications are unsigned, so they only say "read the log".
 */
#include "locklink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "../lib/log.h"
#include "../lib/signer.h"

void locklink_init(struct locklink *k, uint32_t spot, const uint8_t device_pub[PROTO_PUBKEY_LEN],
		   const char *address)
{
	memset(k, 0, sizeof(*k));
	k->spot = spot;
	memcpy(k->device_pub, device_pub, PROTO_PUBKEY_LEN);
	snprintf(k->address, sizeof(k->address), "%s", address);
	k->reply_ms = LOCKLINK_REPLY_MS;
	/* h_0: before event 1 the chain is 32 zero bytes. */
	k->log_hash_known = true;
}

void locklink_close(struct locklink *k)
{
	lockconn_close(&k->link);
	k->connected = false;
}

static void on_event(void *arg, const struct proto_event *ev)
{
	struct locklink *k = arg;

	(void)ev;
	k->events_pending = true;
}

int locklink_connect(struct locklink *k)
{
	struct proto_info info;
	int r;

	locklink_close(k);
	r = k->transport != NULL ?
		    lockconn_open(&k->link, k->transport, k->address, k->spot, k->reply_ms) :
		    lockconn_open_sim(&k->link, k->address);
	if (r != 0)
		return -LOCKLINK_E_UNREACHABLE;
	k->link.on_event = on_event;
	k->link.event_arg = k;
	r = lockconn_hello(&k->link, LOCKLINK_MTU, &info, k->reply_ms);
	if (r != 0) {
		r = r == -LOCKCONN_E_PROTO || r == -LOCKCONN_E_REFUSED ? -LOCKLINK_E_PROTO :
								       -LOCKLINK_E_UNREACHABLE;
		goto fail;
	}
	if (memcmp(info.device_pub, k->device_pub, PROTO_PUBKEY_LEN) != 0) {
		r = -LOCKLINK_E_IDENTITY;
		goto fail;
	}
	if (!(info.flags & PROTO_INFO_PROVISIONED) || info.spot_id == 0) {
		r = -LOCKLINK_E_UNPROVISIONED;
		goto fail;
	}
	if (info.spot_id != k->spot) {
		r = -LOCKLINK_E_IDENTITY;
		goto fail;
	}
	k->info = info;
	k->connected = true;
	return 0;
fail:
	lockconn_close(&k->link);
	return r;
}

/* Maps a link error of a request to ours and closes the link. */
static int link_failed(struct locklink *k, int r)
{
	locklink_close(k);
	return r == -LOCKCONN_E_PROTO || r == -LOCKCONN_E_SPACE ? -LOCKLINK_E_PROTO :
								 -LOCKLINK_E_UNREACHABLE;
}

/* Does a signed ack from this lock answer the message `m`? */
static bool ack_matches(const struct locklink *k, const struct proto_mgmt *m,
			const struct proto_mgmt_ack *a)
{
	union proto_mgmt_payload p;

	if (a->seq != m->seq || a->mtype != m->mtype)
		return false;
	if (a->spot_id == k->spot && signer_check_ack(k->device_pub, k->info.site_id, a) == 0)
		return true;
	/* A REPROVISION may move the lock: its ack can name the new site and spot. */
	return m->mtype == PROTO_MGMT_REPROVISION &&
	       proto_mgmt_decode_payload(m->mtype, m->payload, m->plen, &p) == 0 &&
	       a->spot_id == p.provision.spot_id &&
	       signer_check_ack(k->device_pub, p.provision.site_id, a) == 0;
}

int locklink_deliver(struct locklink *k, const uint8_t *frame, size_t len, uint8_t *ack,
		     size_t cap, uint8_t *code)
{
	struct proto_msg m, reply;
	int n;

	if (proto_decode(frame, len, &m) != 0 || m.type != PROTO_MGMT)
		return -LOCKLINK_E_FRAME;
	if (!k->connected)
		return -LOCKLINK_E_UNREACHABLE;
	n = lockconn_request(&k->link, frame, len, ack, cap, k->reply_ms);
	if (n == 0) {
		locklink_close(k); /* a late ack must not be taken for the next message's */
		return -LOCKLINK_E_UNREACHABLE;
	}
	if (n < 0)
		return link_failed(k, n);
	if (proto_decode(ack, (size_t)n, &reply) != 0)
		return link_failed(k, -LOCKCONN_E_PROTO);
	if (reply.type == PROTO_ERROR) {
		*code = reply.u.error.code;
		return -LOCKLINK_E_REFUSED;
	}
	if (reply.type != PROTO_MGMT_ACK || !ack_matches(k, &m.u.mgmt, &reply.u.ack)) {
		log_warn("lock %u: the answer to management message %u is not its signed ack",
			 (unsigned)k->spot, (unsigned)m.u.mgmt.seq);
		return link_failed(k, -LOCKCONN_E_PROTO);
	}
	if (m.u.mgmt.mtype == PROTO_MGMT_REPROVISION)
		locklink_close(k); /* its identity may have changed: say HELLO again */
	return n;
}

/*
 * Checks the order and the chain of a page whose signature is valid: 0, 1 for an empty
 * page that holds no position, or -LOCKLINK_E_*.
 */
static int check_page(struct locklink *k, const struct proto_log *log,
		      struct locklink_page *page)
{
	uint32_t prev = k->log_seq;
	size_t i;

	for (i = 0; i < log->count; i++) {
		if (log->ev[i].seq <= prev || log->ev[i].seq > log->head_seq)
			return -LOCKLINK_E_PROTO;
		prev = log->ev[i].seq;
	}
	page->gap = false;
	if (log->count == 0) {
		/* Nothing new: the anchor is the hash after the newest event. */
		if (log->head_seq < k->log_seq)
			return -LOCKLINK_E_CHAIN;
		/* Without our hash, short of the head: burned or unread, nothing to take. */
		if (!k->log_hash_known && log->head_seq > k->log_seq)
			return 1;
		if (!k->log_hash_known || memcmp(log->anchor, k->log_hash, PROTO_HASH_LEN) == 0)
			return 0; /* sequences after ours, if any, were burned */
		/*
		 * Not our hash: at the head, the chain is broken; before it, the lock has
		 * events after ours that it did not send (it could not read them), and the
		 * page holds no position to keep.
		 */
		return log->head_seq == k->log_seq ? -LOCKLINK_E_CHAIN : -LOCKLINK_E_PROTO;
	}
	if (!k->log_hash_known || memcmp(log->anchor, k->log_hash, PROTO_HASH_LEN) == 0)
		return 0;
	/* Burned sequence numbers keep the chain; only dropped events break it. */
	if (log->ev[0].seq == k->log_seq + 1)
		return -LOCKLINK_E_CHAIN;
	page->gap = true;
	return 0;
}

int locklink_log_page(struct locklink *k, struct locklink_page *page)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct proto_log *log = &m.u.log;
	uint8_t nonce[PROTO_CNONCE_LEN];
	int n, r;

	if (!k->connected)
		return -LOCKLINK_E_UNREACHABLE;
	if (k->log_seq == UINT32_MAX)
		return -LOCKLINK_E_CHAIN;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -LOCKLINK_E_PROTO;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOG_REQ;
	memcpy(m.u.log_req.nonce, nonce, sizeof(nonce));
	m.u.log_req.from_seq = k->log_seq + 1;
	m.u.log_req.max = PROTO_LOG_PAGE_MAX;
	n = proto_encode(&m, frame, sizeof(frame));
	if (n <= 0)
		return -LOCKLINK_E_PROTO;
	n = lockconn_request(&k->link, frame, (size_t)n, frame, sizeof(frame), k->reply_ms);
	if (n == 0) {
		locklink_close(k);
		return -LOCKLINK_E_UNREACHABLE;
	}
	if (n < 0)
		return link_failed(k, n);
	if (proto_decode(frame, (size_t)n, &m) != 0 || m.type != PROTO_LOG ||
	    signer_check_log(k->device_pub, nonce, k->info.site_id, k->spot, log,
			     page->last_hash) != 0) {
		log_warn("lock %u: a log page failed its check (type 0x%02x)", (unsigned)k->spot,
			 (unsigned)m.type);
		return link_failed(k, -LOCKCONN_E_PROTO);
	}
	r = check_page(k, log, page);
	if (r < 0) {
		locklink_close(k);
		return r;
	}
	/* A page that holds no position reads as nothing new (the next read may). */
	page->head_seq = r == 1 ? k->log_seq : log->head_seq;
	page->count = log->count;
	memcpy(page->ev, log->ev, log->count * sizeof(log->ev[0]));
	if (log->count == 0)
		memcpy(page->last_hash, log->anchor, PROTO_HASH_LEN);
	return 0;
}

void locklink_log_advance(struct locklink *k, const struct locklink_page *page)
{
	if (page->count > 0)
		k->log_seq = page->ev[page->count - 1].seq;
	memcpy(k->log_hash, page->last_hash, PROTO_HASH_LEN);
	k->log_hash_known = true;
}

int locklink_wait(struct locklink *k, int wake_fd, int timeout_ms)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct pollfd p;
	int r;

	if (!k->connected) {
		if (wake_fd < 0)
			return 0;
		p.fd = wake_fd;
		p.events = POLLIN;
		r = poll(&p, 1, timeout_ms);
		return r > 0 && (p.revents & POLLIN) ? 1 : 0;
	}
	r = lockconn_wait(&k->link, wake_fd, timeout_ms);
	if (r == TRANSPORT_WAIT_READY) {
		/* Whatever is there: events to note, late replies to skip. */
		while ((r = lockconn_recv_frame(&k->link, frame, sizeof(frame), 0)) > 0)
			if (r >= PROTO_HDR_LEN && frame[1] == PROTO_EVENT)
				k->events_pending = true;
		if (r < 0 && r != -LOCKCONN_E_SPACE) {
			locklink_close(k);
			return -LOCKLINK_E_UNREACHABLE;
		}
		return 0;
	}
	if (r < 0) {
		locklink_close(k);
		return -LOCKLINK_E_UNREACHABLE;
	}
	return r == TRANSPORT_WAIT_WOKEN ? 1 : 0;
}

const char *locklink_strerror(int err)
{
	static const char *const text[] = {
		[LOCKLINK_E_UNREACHABLE] = "the lock is out of reach or did not answer",
		[LOCKLINK_E_IDENTITY] =
			"the lock is not the one the server knows (spot or device key)",
		[LOCKLINK_E_UNPROVISIONED] = "the lock is not provisioned yet",
		[LOCKLINK_E_PROTO] = "the lock sent a malformed, mismatched or badly signed reply",
		[LOCKLINK_E_REFUSED] = "the lock refused the frame",
		[LOCKLINK_E_FRAME] = "the frame is not a valid management message",
		[LOCKLINK_E_CHAIN] = "the lock's event log does not continue the chain read before",
	};
	unsigned i = (unsigned)(err < 0 ? -err : err);

	return i < sizeof(text) / sizeof(text[0]) && text[i] != NULL ? text[i] : "unknown error";
}
