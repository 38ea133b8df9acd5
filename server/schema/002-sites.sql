-- 002-sites.sql: sites and their maps, spots with their locks, gateways and what they
-- cover, reservation keys, e-keys, and the queue of site-signed management frames.
-- Portable SQL as 001 explains (INTEGER PRIMARY KEY and BLOB are rewritten for
-- PostgreSQL). IDs given by the site description are BIGINT (u32 on the wire), times
-- Unix seconds, map coordinates centimetres. Private keys are stored only as sealed by
-- server/keywrap.c.

-- One number space for key IDs and share IDs (PROTOCOL.md section 1), allocated with
-- UPDATE ... RETURNING in the transaction that uses the ID.
CREATE TABLE id_counters (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO id_counters (name, value) VALUES ('key_id', 0);

CREATE TABLE sites (
	id BIGINT PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295), -- the protocol's site_id
	name TEXT NOT NULL UNIQUE,
	public_key BLOB NOT NULL,        -- X || Y, 64 bytes
	private_key BLOB NOT NULL,       -- keywrap_seal_key(master, "site:<id>")
	description TEXT NOT NULL,        -- the imported description (SITE-FORMAT.md), as given
	created_at BIGINT NOT NULL
);

CREATE TABLE levels (
	site_id BIGINT NOT NULL REFERENCES sites (id),
	id TEXT NOT NULL,                 -- "B1"
	name TEXT NOT NULL,
	width_cm BIGINT NOT NULL CHECK (width_cm > 0),
	height_cm BIGINT NOT NULL CHECK (height_cm > 0),
	position BIGINT NOT NULL,         -- order in the description, from 0
	PRIMARY KEY (site_id, id)
);

CREATE TABLE nodes (
	site_id BIGINT NOT NULL,
	id TEXT NOT NULL,
	level TEXT NOT NULL,
	x_cm BIGINT NOT NULL,
	y_cm BIGINT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('entrance', 'exit', 'junction')),
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, level) REFERENCES levels (site_id, id)
);

-- Two-way lanes: a lane between nodes of two levels is a ramp.
CREATE TABLE lanes (
	site_id BIGINT NOT NULL,
	a TEXT NOT NULL,
	b TEXT NOT NULL,
	PRIMARY KEY (site_id, a, b),
	FOREIGN KEY (site_id, a) REFERENCES nodes (site_id, id),
	FOREIGN KEY (site_id, b) REFERENCES nodes (site_id, id)
);

CREATE TABLE spots (
	id BIGINT PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295), -- the lock's spot_id
	site_id BIGINT NOT NULL REFERENCES sites (id),
	name TEXT NOT NULL,
	level TEXT NOT NULL,
	x_cm BIGINT NOT NULL,
	y_cm BIGINT NOT NULL,
	node TEXT NOT NULL,               -- the lane node a driver reaches the spot from
	owner_id BIGINT REFERENCES users (id),
	policy TEXT NOT NULL DEFAULT 'anyone'
		CHECK (policy IN ('anyone', 'region', 'authorised')),
	region TEXT,                      -- for policy 'region'
	-- Default key limits (claim 2): a key is valid from issue (less a clock allowance)
	-- for key_valid_s seconds, 0 for no end, and key_max_unlocks 0 is unlimited. The
	-- owner's own key has no limits.
	key_valid_s BIGINT NOT NULL DEFAULT 0 CHECK (key_valid_s >= 0),
	key_max_unlocks BIGINT NOT NULL DEFAULT 0 CHECK (key_max_unlocks BETWEEN 0 AND 65535),
	-- Live state from the lock's events, NULL until first heard of.
	locked INTEGER,
	occupied INTEGER,
	battery INTEGER,
	online INTEGER NOT NULL DEFAULT 0,
	last_event_at BIGINT,
	UNIQUE (site_id, name),
	FOREIGN KEY (site_id, level) REFERENCES levels (site_id, id),
	FOREIGN KEY (site_id, node) REFERENCES nodes (site_id, id)
);
CREATE INDEX spots_site ON spots (site_id);
CREATE INDEX spots_owner ON spots (owner_id);

CREATE TABLE locks (
	spot_id BIGINT PRIMARY KEY REFERENCES spots (id),
	address TEXT NOT NULL,            -- transport address: sim socket path or BLE MAC
	device_pub BLOB NOT NULL UNIQUE, -- X || Y: verifies acks, status, event log
	mgmt_seq BIGINT NOT NULL DEFAULT 0, -- last management sequence signed for this lock
	event_seq BIGINT NOT NULL DEFAULT 0 -- newest event sequence stored from this lock
);

CREATE TABLE gateways (
	id BIGINT PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295),
	site_id BIGINT NOT NULL REFERENCES sites (id),
	name TEXT NOT NULL,
	public_key BLOB NOT NULL UNIQUE, -- X || Y: verifies the gateway's request signatures
	last_seen_at BIGINT,
	UNIQUE (site_id, name)
);

CREATE TABLE gateway_covers (
	gateway_id BIGINT NOT NULL REFERENCES gateways (id),
	spot_id BIGINT NOT NULL REFERENCES locks (spot_id),
	PRIMARY KEY (gateway_id, spot_id)
);
CREATE INDEX gateway_covers_spot ON gateway_covers (spot_id);

-- Users the owner lets use a spot whose policy is 'authorised'.
CREATE TABLE authorised_users (
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	user_id BIGINT NOT NULL REFERENCES users (id),
	PRIMARY KEY (spot_id, user_id)
);

-- A user's region, for spots whose policy is 'region'. No row means none set.
CREATE TABLE user_regions (
	user_id BIGINT PRIMARY KEY REFERENCES users (id),
	region TEXT NOT NULL
);

CREATE TABLE reservation_keys (
	user_id BIGINT PRIMARY KEY REFERENCES users (id),
	public_key BLOB NOT NULL,        -- X || Y
	private_key BLOB NOT NULL,       -- keywrap_seal_key(master, "reservation:<user>")
	created_at BIGINT NOT NULL
);

CREATE TABLE ekeys (
	key_id BIGINT PRIMARY KEY CHECK (key_id BETWEEN 1 AND 4294967295),
	user_id BIGINT NOT NULL REFERENCES users (id),
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	device_pub BLOB NOT NULL,        -- the holder's device key, X || Y
	not_before BIGINT NOT NULL,       -- Unix seconds, 0 for none
	not_after BIGINT NOT NULL,        -- Unix seconds, 4294967295 for none
	max_unlocks BIGINT NOT NULL,      -- 0 for unlimited
	flags BIGINT NOT NULL,            -- PROTO_CRED_*
	ekey BLOB NOT NULL,              -- the signed 151-byte e-key as issued
	issued_at BIGINT NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0,
	revoked_at BIGINT
);
CREATE INDEX ekeys_spot ON ekeys (spot_id, revoked);
CREATE INDEX ekeys_user ON ekeys (user_id);

-- Site-signed MGMT frames waiting for a gateway that covers the lock, and their acks.
CREATE TABLE mgmt_queue (
	id INTEGER PRIMARY KEY,
	spot_id BIGINT NOT NULL REFERENCES locks (spot_id),
	seq BIGINT NOT NULL,              -- the frame's management sequence
	kind TEXT NOT NULL,               -- "install_cred", "install_share", "revoke", ...
	key_id BIGINT,                    -- the key or share it delivers, if any
	frame BLOB NOT NULL,             -- the whole MGMT frame, as signed
	created_at BIGINT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'failed')),
	result TEXT,                      -- "ok" or the lock's status name
	acked_at BIGINT,
	ack BLOB,                        -- the MGMT_ACK frame, device-signed
	gateway_id BIGINT                 -- the gateway that reported the ack
);
CREATE INDEX mgmt_queue_pending ON mgmt_queue (state, spot_id, id);
CREATE INDEX mgmt_queue_key ON mgmt_queue (key_id);
