-- 006-ekeys-live.sql: the "live keys on this spot" question (key.c's spot_taken rule,
-- asked inside the write transaction of every issuance, and spot.c's live count) read
-- from one index without visiting the table: expired keys fall outside the not_after
-- range, and the holder is in the index. 002's ekeys_spot is a prefix of it, so it goes
-- (one index fewer to write per key). Portable SQL as 001 explains.

CREATE INDEX ekeys_spot_live ON ekeys (spot_id, revoked, not_after, user_id);
DROP INDEX ekeys_spot;
