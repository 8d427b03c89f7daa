-- Rillflow core schema. Schema-unqualified: the runner sets search_path
-- transaction-locally to the target schema.

-- Documents: one table per collection; "docs" is the default collection.
create table docs (
  id uuid primary key,
  doc jsonb not null,
  version integer not null default 1 check (version > 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  created_by text,
  last_modified_by text
);
create index docs_doc_gin on docs using gin (doc jsonb_path_ops);

-- Event streams. A stream's row holds its current version; the version check
-- of an append happens in the statement that bumps it (invariant 3).
create table streams (
  stream_id uuid primary key,
  version integer not null check (version >= 0),
  category text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  archived_at timestamptz
);
create index streams_category on streams (category) where category is not null;

-- Global positions. cache 1 keeps last_value exact for the no-skip reader
-- (invariant 1): a writer's positions are all above the last_value it read
-- before inserting.
create sequence events_global_seq as bigint cache 1;

create table events (
  global_seq bigint primary key default nextval('events_global_seq'),
  stream_id uuid not null,
  stream_seq integer not null check (stream_seq > 0),
  type text not null,
  data jsonb not null,
  headers jsonb not null default '{}'::jsonb,
  causation_id text,
  correlation_id text,
  event_version integer not null default 1,
  tenant_id text,
  user_id text,
  created_at timestamptz not null default now(),
  constraint events_stream_seq_unique unique (stream_id, stream_seq)
);
create index events_type_global_seq on events (type, global_seq);
alter sequence events_global_seq owned by events.global_seq;

-- Idempotency keys are unique for all time (invariant 4), so they live apart
-- from events, which may be archived.
create table idempotency_keys (
  key text primary key,
  stream_id uuid not null,
  stream_version integer not null,
  global_seqs bigint[] not null,
  created_at timestamptz not null default now()
);

-- Human names for streams.
create table stream_aliases (
  alias text primary key,
  stream_id uuid not null unique,
  created_at timestamptz not null default now()
);

-- Aggregate snapshots, one per stream and aggregate; a changed aggregate
-- (schema_version) ignores stale ones.
create table snapshots (
  stream_id uuid not null,
  aggregate text not null,
  schema_version integer not null default 1,
  stream_version integer not null,
  state jsonb not null,
  created_at timestamptz not null default now(),
  primary key (stream_id, aggregate)
);

-- Projection daemon bookkeeping (invariants 2 and 6): the checkpoint is the
-- last global position the projection has passed; the lease (owner, expiry,
-- fencing token) keeps one worker per projection; attempts/next_attempt_at/
-- last_error hold the retry state of the event after the checkpoint.
create table projections (
  name text primary key,
  checkpoint bigint not null default 0 check (checkpoint >= 0),
  paused boolean not null default false,
  lease_owner text,
  lease_expires_at timestamptz,
  fencing_token bigint not null default 0,
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  updated_at timestamptz not null default now()
);

-- Events a projection gave up on after its last attempt, with the envelope it
-- was given and the error text.
create table projection_dead_letters (
  id bigserial primary key,
  projection text not null references projections (name) on delete cascade,
  global_seq bigint not null,
  envelope jsonb not null,
  error text not null,
  attempts integer not null,
  created_at timestamptz not null default now()
);
create index projection_dead_letters_projection on projection_dead_letters (projection, id);

-- Subscriptions: a stored filter and start position. Each consumer group has
-- its own partitions (one when exclusive, several when members share the
-- work by stream hash); a partition has a checkpoint and a lease with a
-- fencing token. Acks above a checkpoint (out-of-order or transactional acks)
-- are kept in subscription_acks until the checkpoint passes them.
create table subscriptions (
  name text primary key,
  filter jsonb not null default '{}'::jsonb,
  start_from bigint not null default 0 check (start_from >= 0),
  paused boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table subscription_groups (
  subscription text not null references subscriptions (name) on delete cascade,
  group_name text not null,
  members text not null check (members in ('exclusive', 'shared')),
  partition_count integer not null check (partition_count between 1 and 1024),
  max_in_flight integer check (max_in_flight > 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (subscription, group_name)
);

create table subscription_partitions (
  subscription text not null,
  group_name text not null,
  partition integer not null check (partition >= 0),
  checkpoint bigint not null check (checkpoint >= 0),
  updated_at timestamptz not null default now(),
  primary key (subscription, group_name, partition),
  foreign key (subscription, group_name)
    references subscription_groups (subscription, group_name) on delete cascade
);

-- Leases live apart from checkpoints: a transactional ack holds its lease row
-- FOR SHARE until the caller commits (no takeover meanwhile) without blocking
-- the owner's checkpoint writes.
create table subscription_leases (
  subscription text not null,
  group_name text not null,
  partition integer not null,
  lease_owner text,
  lease_expires_at timestamptz,
  fencing_token bigint not null default 0,
  primary key (subscription, group_name, partition),
  foreign key (subscription, group_name, partition)
    references subscription_partitions (subscription, group_name, partition) on delete cascade
);

-- Live members of a group; in_flight counts the events a member has reserved
-- (delivered or about to be) and not yet acknowledged: maxInFlight bounds
-- their sum over unexpired members.
create table subscription_members (
  subscription text not null,
  group_name text not null,
  member_id text not null,
  in_flight integer not null default 0 check (in_flight >= 0),
  joined_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (subscription, group_name, member_id),
  foreign key (subscription, group_name)
    references subscription_groups (subscription, group_name) on delete cascade
);

create table subscription_acks (
  subscription text not null,
  group_name text not null,
  global_seq bigint not null,
  partition integer not null,
  primary key (subscription, group_name, global_seq),
  foreign key (subscription, group_name)
    references subscription_groups (subscription, group_name) on delete cascade
);

-- Nacked events waiting for redelivery (attempts so far, when), and dead
-- letters put back by dlq-requeue (requeued).
create table subscription_retries (
  subscription text not null,
  group_name text not null,
  global_seq bigint not null,
  partition integer not null,
  attempts integer not null check (attempts >= 0),
  retry_at timestamptz not null,
  last_error text,
  requeued boolean not null default false,
  primary key (subscription, group_name, global_seq),
  foreign key (subscription, group_name)
    references subscription_groups (subscription, group_name) on delete cascade
);
create index subscription_retries_requeued on subscription_retries (subscription, group_name)
  where requeued;

create table subscription_dead_letters (
  id bigserial primary key,
  subscription text not null,
  group_name text not null,
  global_seq bigint not null,
  envelope jsonb not null,
  error text not null,
  attempts integer not null,
  created_at timestamptz not null default now(),
  foreign key (subscription, group_name)
    references subscription_groups (subscription, group_name) on delete cascade
);
create index subscription_dead_letters_group on subscription_dead_letters (subscription, group_name, id);
