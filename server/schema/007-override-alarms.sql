-- 007-override-alarms.sql: an attendant's overrides of a lock (the reason as typed, which
-- the lock knows only by the first 8 bytes of its SHA-256), and the console's alarms as
-- numbered and acknowledged. Whether an alarm is open is not stored: it is read from the
-- events and the spots' live state (server/alarm.c). Portable SQL as 001 explains.

-- One row per override the server signed. The lock logs the override with the attendant,
-- the op, the digest's first two bytes and the message's sequence, so a dispute reads this
-- row beside the lock's signed log. user_id is not a foreign key, as in audit.
CREATE TABLE overrides (
	id INTEGER PRIMARY KEY,
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	user_id BIGINT NOT NULL,          -- the attendant (or administrator)
	op TEXT NOT NULL CHECK (op IN ('unlock', 'lock')),
	reason TEXT NOT NULL,             -- 1..200 characters, as typed
	reason_digest BLOB NOT NULL,      -- SHA-256(reason)[0..8), as in the REMOTE_OPERATE
	message_id BIGINT NOT NULL REFERENCES mgmt_queue (id), -- a resend's chain starts here
	seq BIGINT NOT NULL,              -- its management sequence: the lock event's key_id
	not_after BIGINT NOT NULL,        -- the lock refuses it after this (lock time)
	created_at BIGINT NOT NULL
);
CREATE INDEX overrides_spot ON overrides (spot_id, id);

-- The alarms a console has listed, numbered so that a client can name one, and whether
-- an attendant has seen to it. An alarm is the condition server/alarm.c reads from the
-- events and the spots' live state; a row names one occurrence of it by its spot, its
-- kind and a number that changes when it comes again (the raising event's sequence, or
-- for 'offline' the time the lock went out of reach), so a new occurrence gets a new
-- row and is listed again. acked_by is not a foreign key, as in audit.
CREATE TABLE alarms (
	id INTEGER PRIMARY KEY,
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	kind TEXT NOT NULL,               -- 'forced', 'jammed', 'car_without_key', ...
	occurrence BIGINT NOT NULL,
	since BIGINT NOT NULL,            -- when the server learnt of it
	event_seq BIGINT NOT NULL,        -- the lock event that raised it, 0 for none
	listed_at BIGINT NOT NULL,        -- when a list first showed it
	acked_by BIGINT,                  -- NULL until an attendant acknowledges it
	acked_at BIGINT,
	note TEXT,                        -- 0..200 characters, as typed; NULL for none
	UNIQUE (spot_id, kind, occurrence)
);

-- The alarms read each spot's newest event of a kind ('forced', 'jammed', ...) and
-- whether a later one cleared it: one index serves both without reading the spot's
-- other events.
CREATE INDEX events_spot_kind ON events (spot_id, kind, seq);
