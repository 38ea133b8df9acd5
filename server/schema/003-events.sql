-- 003-events.sql: every lock event the gateways report (once per lock and sequence),
-- and the notifications of spot managers that events cause. The spots' live state
-- columns (locked, occupied, battery, online, last_event_at) and locks.event_seq are
-- 002's; event.c keeps them up to date. Portable SQL as 001 explains.

-- One row per event a lock logged (PROTOCOL.md section 7), as its gateway read it from
-- the lock's signed log. `time` is the lock's clock (0 before its first SET_TIME);
-- received_at is the server's.
CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	seq BIGINT NOT NULL CHECK (seq BETWEEN 1 AND 4294967295),
	time BIGINT NOT NULL CHECK (time BETWEEN 0 AND 4294967295),
	kind TEXT NOT NULL,               -- proto_event_name(): "unlocked", "car_arrived", ...
	arg8 BIGINT NOT NULL CHECK (arg8 BETWEEN 0 AND 255),
	arg16 BIGINT NOT NULL CHECK (arg16 BETWEEN 0 AND 65535),
	user_id BIGINT NOT NULL,          -- as the lock logged it; 0 for none (no foreign key)
	key_id BIGINT NOT NULL,
	gateway_id BIGINT NOT NULL,       -- the gateway that reported it first
	received_at BIGINT NOT NULL,
	UNIQUE (spot_id, seq)
);
CREATE INDEX events_spot ON events (spot_id, id);

-- A notification of a spot's managers through the configured hook (notify.c), made in
-- the transaction that stores its event and sent afterwards by the notify worker.
CREATE TABLE notifications (
	id INTEGER PRIMARY KEY,
	event_id BIGINT NOT NULL UNIQUE REFERENCES events (id),
	spot_id BIGINT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
	recipients TEXT,                  -- JSON array of the user IDs told, once sent
	attempts BIGINT NOT NULL DEFAULT 0,
	next_try_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	sent_at BIGINT,
	error TEXT                         -- why the last attempt failed
);
CREATE INDEX notifications_pending ON notifications (state, next_try_at, id);
