-- When each member of a consumer group last beat, and how often it beats. A
-- shared group assigns partitions only to members that beat recently: a member
-- that missed two beats gets none, although its row (and its leases) live
-- until they expire. Rows written by an earlier version have no beat: they
-- count until they expire, as before.
alter table subscription_members add column heartbeat_at timestamptz;
alter table subscription_members add column heartbeat_interval_ms integer
  check (heartbeat_interval_ms > 0);
