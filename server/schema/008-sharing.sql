-- 008-sharing.sql: sharing a key with another user (claims 5-7), the owner's control of
-- it, the site's revocation list that reaches offline locks, and one-time codes for the
-- owner's and attendant's decisive actions. server/share.c, server/revocation.c and
-- server/otp.c own these tables. Portable SQL as 001 explains.

-- The owner's settings of a spot: whether renters' keys carry the may-share flag
-- (PROTO_CRED_MAY_SHARE, for keys issued from then on), and whether a share made by
-- anyone but the owner waits for the owner's approval.
ALTER TABLE spots ADD COLUMN renters_may_share INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spots ADD COLUMN require_share_approval INTEGER NOT NULL DEFAULT 0;

-- A key handed on by an accepted transfer share: it opens nothing any more (the lock
-- marks its credential transferred when the share's INSTALL_SHARE arrives), for good.
ALTER TABLE ekeys ADD COLUMN transferred INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ekeys ADD COLUMN transferred_at BIGINT;

-- One row per share. share_id comes from id_counters 'key_id' (002): one number space
-- with key IDs, as the lock's revocation list needs. A reshare (of a share the sharer
-- holds) names on the wire the same credential as the share it derives from: the lock
-- knows credentials only, so parent_key_id is always the root e-key and key_holder_id
-- its holder, whose reservation key signs the shared key. parent_share_id records the
-- lineage, which revocation follows. user IDs are not foreign keys, as in audit.
CREATE TABLE shares (
	share_id BIGINT PRIMARY KEY CHECK (share_id BETWEEN 1 AND 4294967295),
	parent_key_id BIGINT NOT NULL REFERENCES ekeys (key_id),
	parent_share_id BIGINT REFERENCES shares (share_id), -- NULL: a share of the key itself
	spot_id BIGINT NOT NULL REFERENCES spots (id),
	site_id BIGINT NOT NULL,
	sharer_id BIGINT NOT NULL,        -- who shared (the key's or parent share's holder)
	key_holder_id BIGINT NOT NULL,    -- the root key's holder: the lock's sharer_id
	recipient_id BIGINT NOT NULL,
	mode TEXT NOT NULL CHECK (mode IN ('co-share', 'transfer')),
	wire_mode BIGINT NOT NULL DEFAULT 0, -- proto_share_mode as signed; 0 until accepted
	not_before BIGINT NOT NULL,       -- Unix seconds, 0 for none
	not_after BIGINT NOT NULL,        -- Unix seconds, 4294967295 for none
	max_unlocks BIGINT NOT NULL CHECK (max_unlocks BETWEEN 0 AND 65535), -- 0: unlimited
	may_reshare INTEGER NOT NULL CHECK (may_reshare IN (0, 1)),
	state TEXT NOT NULL CHECK (state IN ('pending_approval', 'offered', 'active', 'refused',
		'frozen', 'revoked', 'given_up', 'removed')),
	transferred INTEGER NOT NULL DEFAULT 0, -- handed on by a transfer reshare
	device_pub BLOB,                 -- the recipient's device key, from acceptance on
	skey BLOB,                       -- the signed 160-byte shared key, from acceptance on
	created_at BIGINT NOT NULL,
	decided_at BIGINT,                -- the owner's approval or refusal
	accepted_at BIGINT,
	ended_at BIGINT                   -- refused, revoked, given up, removed
);
CREATE INDEX shares_parent_key ON shares (parent_key_id);
CREATE INDEX shares_parent_share ON shares (parent_share_id);
CREATE INDEX shares_sharer ON shares (sharer_id);
CREATE INDEX shares_recipient ON shares (recipient_id);
CREATE INDEX shares_spot ON shares (spot_id);

-- Why an ID is on its site's revocation list: one row per (ID, cause), the cause being
-- the key or share whose revocation, freezing, giving up or removal took the ID's right
-- away (the ID itself, or a share it derives from). Unfreezing `cause` deletes its
-- frozen rows. A row leaves the list once it opens nothing anyway: past not_after, or
-- retired (server/revocation.c). added_serial is the first list that held it (0 until
-- the publish in the same transaction stamps it).
CREATE TABLE revocations (
	site_id BIGINT NOT NULL REFERENCES sites (id),
	id BIGINT NOT NULL,               -- a key ID or share ID
	cause BIGINT NOT NULL,
	frozen INTEGER NOT NULL CHECK (frozen IN (0, 1)),
	spot_id BIGINT NOT NULL,
	not_after BIGINT NOT NULL,        -- the latest the ID could open anything
	added_serial BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (site_id, id, cause)
);

-- The newest signed list of each site: REVOKE, target 0, seq = serial (PROTOCOL.md 5.3).
CREATE TABLE revocation_lists (
	site_id BIGINT PRIMARY KEY REFERENCES sites (id),
	serial BIGINT NOT NULL CHECK (serial BETWEEN 1 AND 4294967295),
	ids TEXT NOT NULL,                -- the IDs as a JSON array, ascending
	frame BLOB NOT NULL,             -- the whole MGMT frame, as signed
	created_at BIGINT NOT NULL
);

-- A user's TOTP secret (RFC 6238), sealed under the master key for "otp:<user>". It is
-- `pending` from enrolment until a code from it is confirmed, then `secret`. A time step
-- is accepted once: last_step is the newest one accepted.
CREATE TABLE otp_secrets (
	user_id BIGINT PRIMARY KEY REFERENCES users (id),
	secret BLOB,
	pending BLOB,
	last_step BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	confirmed_at BIGINT
);

-- A notification for one user (a share's requester told of the owner's decision)
-- rather than the spot's managers; NULL for the managers.
ALTER TABLE notifications ADD COLUMN user_id BIGINT;
