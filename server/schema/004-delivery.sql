-- 004-delivery.sql: what delivering management messages needs beyond 002's queue: when
-- a pending message was last given to a gateway (a long poll gives each one out at most
-- once per redeliver_s, unless the gateway resumes after its restart), which message an
-- automatic resend re-signs (a lock that answers stale_sequence gets the same payload
-- under a fresh sequence, a bounded number of times), and an index for the newest
-- SET_TIME of each lock (timerelay.c). Portable SQL as 001 explains.

ALTER TABLE mgmt_queue ADD COLUMN last_given_at BIGINT; -- NULL: not given out yet
ALTER TABLE mgmt_queue ADD COLUMN resend_of BIGINT REFERENCES mgmt_queue (id); -- the first of a chain of resends
ALTER TABLE mgmt_queue ADD COLUMN resends BIGINT NOT NULL DEFAULT 0; -- automatic resends before this one

CREATE INDEX mgmt_queue_spot_kind ON mgmt_queue (spot_id, kind, created_at);
