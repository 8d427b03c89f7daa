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
-- of an append happens in the statement that bumps it (invariant 3). Version 0:
-- a stream named by an alias but without events yet. The fill factor leaves
-- room on each page so version bumps are HOT updates (no index writes).
create table streams (
  stream_id uuid primary key,
  version integer not null check (version >= 0),
  category text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  archived_at timestamptz
) with (fillfactor = 80);
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
-- from events, which may be archived. Each records the append's result and a
-- hash of its request, so a conflicting retry can be told apart from a reuse.
create table idempotency_keys (
  key text primary key,
  stream_id uuid not null,
  stream_version integer not null,
  global_seqs bigint[] not null,
  request_hash text not null,
  created_at timestamptz not null default now()
);

-- Human names for streams (store.streams.resolve).
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

-- Projection daemon bookkeeping: checkpoint, lease with fencing token,
-- backoff state (invariants 2 and 6).
create table projections (
  name text primary key,
  checkpoint bigint not null default 0,
  paused boolean not null default false,
  lease_owner text,
  lease_expires_at timestamptz,
  fencing_token bigint not null default 0,
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_error text,
  updated_at timestamptz not null default now()
);

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

-- Subscriptions: a stored filter; each consumer group has its own checkpoint,
-- lease and in-flight bound.
create table subscriptions (
  name text primary key,
  filter jsonb not null default '{}'::jsonb,
  start_from bigint not null default 0,
  paused boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table subscription_groups (
  subscription text not null references subscriptions (name) on delete cascade,
  group_name text not null,
  checkpoint bigint not null,
  max_in_flight integer,
  lease_owner text,
  lease_expires_at timestamptz,
  fencing_token bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (subscription, group_name)
);

create table subscription_dead_letters (
  id bigserial primary key,
  subscription text not null references subscriptions (name) on delete cascade,
  group_name text not null,
  global_seq bigint not null,
  envelope jsonb not null,
  error text not null,
  attempts integer not null,
  created_at timestamptz not null default now()
);
create index subscription_dead_letters_group on subscription_dead_letters (subscription, group_name, id);
