-- 005-online.sql: whether each gateway reaches each lock it covers, as it reports it
-- (POST /v1/gateway/status), from which spots.online follows; and notifications that
-- come from the server's own view of a spot rather than from a lock's event (a lock out
-- of reach is an attendant's alarm). Portable SQL as 001 explains.

CREATE TABLE gateway_reach (
	gateway_id BIGINT NOT NULL REFERENCES gateways (id),
	spot_id BIGINT NOT NULL REFERENCES locks (spot_id),
	online INTEGER NOT NULL CHECK (online IN (0, 1)),
	changed_at BIGINT NOT NULL,       -- when this gateway's view of the lock last changed
	PRIMARY KEY (gateway_id, spot_id)
);
CREATE INDEX gateway_reach_spot ON gateway_reach (spot_id, online);

-- 003's notifications with event_id optional: a row is either a lock event's (event_id)
-- or the server's own alarm (kind: 'offline'). SQLite cannot drop a NOT NULL, so the
-- table is made again under its name; no other table refers to it. The IDs are kept
-- (a PostgreSQL backend moves its identity past them after this migration).
CREATE TABLE notifications_005 (
	id INTEGER PRIMARY KEY,
	event_id BIGINT UNIQUE REFERENCES events (id),
	kind TEXT,                        -- the server's own alarm ('offline'); NULL for an event
	spot_id BIGINT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
	recipients TEXT,                  -- JSON array of the user IDs told, once sent
	attempts BIGINT NOT NULL DEFAULT 0,
	next_try_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	sent_at BIGINT,
	error TEXT,                        -- why the last attempt failed
	CHECK ((event_id IS NULL) <> (kind IS NULL))
);
INSERT INTO notifications_005 (id, event_id, kind, spot_id, state, recipients, attempts,
	next_try_at, created_at, sent_at, error)
	SELECT id, event_id, NULL, spot_id, state, recipients, attempts, next_try_at,
	       created_at, sent_at, error FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_005 RENAME TO notifications;
CREATE INDEX notifications_pending ON notifications (state, next_try_at, id);
