-- Rillflow core schema. Schema-unqualified: the runner sets search_path
-- transaction-locally to the target schema.

-- Documents: one table per collection; "docs" is the default collection.
-- Every collection table is created by rillflow_create_collection, so "docs"
-- (created below) and collections created on first use have the same shape.

-- Collections and their settings. A table is a collection only when listed here.
create table rillflow_collections (
  name text primary key check (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
  search_language text not null default 'english',
  history boolean not null default false,
  created_at timestamptz not null default now()
);

-- Duplicated fields: a JSON path copied into a typed column by a trigger.
-- Queries use the column once state is 'ready' (backfill finished).
create table rillflow_duplicated_fields (
  collection text not null references rillflow_collections (name) on delete cascade,
  column_name text not null check (column_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
  json_path text[] not null check (cardinality(json_path) > 0),
  path_kinds text not null,
  data_type text not null
    check (data_type in ('text', 'integer', 'bigint', 'numeric', 'boolean', 'timestamptz', 'uuid', 'jsonb')),
  indexed boolean not null default true,
  transform text check (transform ~ '^[a-z0-9_ (),:{}]*$' and transform like '%{value}%'),
  state text not null default 'pending' check (state in ('pending', 'ready')),
  updated_at timestamptz not null default now(),
  primary key (collection, column_name)
);

-- A derived object name of at most 63 bytes: long names keep a hash suffix
-- instead of being silently truncated (and colliding).
create function rillflow_object_name(p_parts text[]) returns text
language sql immutable as $$
  select case when octet_length(j) <= 63 then j else left(j, 54) || '_' || left(md5(j), 8) end
    from (select array_to_string(p_parts, '_') as j) as s
$$;

-- The one definition of a collection table.
create function rillflow_create_collection(p_name text, p_language text) returns void
language plpgsql set search_path from current as $$
begin
  if p_name !~ '^[a-z_][a-z0-9_]{0,62}$' then
    raise exception 'Invalid collection name "%"', p_name using errcode = '22023';
  end if;
  if not exists (select 1 from pg_ts_config where cfgname = p_language) then
    raise exception 'Unknown text search language "%"', p_language using errcode = '22023';
  end if;
  if to_regclass(format('%I.%I', current_schema(), p_name)) is not null then
    raise exception 'Cannot use "%" as a collection: a table of that name exists and is not a collection',
      p_name using errcode = '22023';
  end if;
  execute format($ddl$
    create table %1$I (
      id uuid primary key,
      doc jsonb not null,
      version integer not null default 1 check (version > 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      created_by text,
      last_modified_by text,
      search_vector tsvector generated always as (to_tsvector(%2$L::regconfig, doc)) stored
    )$ddl$, p_name, p_language);
  execute format('create index %I on %I using gin (doc jsonb_path_ops)',
    rillflow_object_name(array[p_name, 'doc_gin']), p_name);
  execute format('create index %I on %I using gin (search_vector)',
    rillflow_object_name(array[p_name, 'search']), p_name);
  insert into rillflow_collections (name, search_language) values (p_name, p_language);
end
$$;

-- Creates a collection on first use (race-safe) and returns what queries need
-- to know of it: the search language and the ready duplicated fields.
create function rillflow_ensure_collection(p_name text) returns jsonb
language plpgsql set search_path from current as $$
begin
  if not exists (select 1 from rillflow_collections where name = p_name) then
    perform pg_advisory_xact_lock(hashtextextended('rillflow:collection:' || current_schema() || ':' || p_name, 0));
    if not exists (select 1 from rillflow_collections where name = p_name) then
      perform rillflow_create_collection(p_name, 'english');
    end if;
  end if;
  return (
    select jsonb_build_object(
      'searchLanguage', c.search_language,
      'historyTable', case when c.history then rillflow_object_name(array[c.name, 'history']) end,
      'fields', coalesce((
        select jsonb_agg(jsonb_build_object('column', f.column_name, 'path', to_jsonb(f.json_path),
                 'kinds', f.path_kinds, 'type', f.data_type, 'transform', f.transform) order by f.column_name)
          from rillflow_duplicated_fields f
         where f.collection = c.name and f.state = 'ready'), '[]'::jsonb))
      from rillflow_collections c where c.name = p_name);
end
$$;

-- Changes the language of a collection's search_vector column (rewrites the table).
create function rillflow_set_search_language(p_collection text, p_language text) returns void
language plpgsql set search_path from current as $$
declare
  index_name text := rillflow_object_name(array[p_collection, 'search']);
begin
  if not exists (select 1 from pg_ts_config where cfgname = p_language) then
    raise exception 'Unknown text search language "%"', p_language using errcode = '22023';
  end if;
  if exists (select 1 from rillflow_collections where name = p_collection and search_language = p_language) then
    return;
  end if;
  execute format('alter table %I drop column search_vector', p_collection);
  execute format('alter table %I add column search_vector tsvector generated always as '
    '(to_tsvector(%L::regconfig, doc)) stored', p_collection, p_language);
  execute format('create index %I on %I using gin (search_vector)', index_name, p_collection);
  update rillflow_collections set search_language = p_language where name = p_collection;
end
$$;

-- Keeps past versions of a collection's documents in <collection>_history.
create function rillflow_enable_history(p_collection text) returns void
language plpgsql set search_path from current as $$
declare
  history_table text := rillflow_object_name(array[p_collection, 'history']);
  trigger_fn text := rillflow_object_name(array[p_collection, 'rf_history']);
begin
  execute format($ddl$
    create table if not exists %1$I (
      history_id bigserial primary key,
      id uuid not null,
      version integer not null,
      doc jsonb not null,
      operation text not null,
      deleted_at timestamptz,
      modified_by text,
      archived_at timestamptz not null default now()
    )$ddl$, history_table);
  execute format('create index if not exists %I on %I (id, version)',
    rillflow_object_name(array[history_table, 'id']), history_table);
  execute format($fn$
    create or replace function %1$I() returns trigger language plpgsql as $body$
    begin
      if TG_OP = 'UPDATE' and NEW.version = OLD.version then
        return null;
      end if;
      insert into %2$I.%3$I (id, version, doc, operation, deleted_at, modified_by)
      values (OLD.id, OLD.version, OLD.doc, lower(TG_OP), OLD.deleted_at, OLD.last_modified_by);
      return null;
    end $body$
  $fn$, trigger_fn, current_schema(), history_table);
  execute format('drop trigger if exists %I on %I', trigger_fn, p_collection);
  execute format('create trigger %I after delete or update on %I for each row execute function %I()',
    trigger_fn, p_collection, trigger_fn);
  update rillflow_collections set history = true where name = p_collection;
end
$$;

-- Adds the columns, indexes and sync trigger of a collection's duplicated
-- fields. A column whose type changed is recreated; its field goes back to
-- 'pending' until backfilled.
create function rillflow_apply_duplicated_fields(p_collection text) returns void
language plpgsql set search_path from current as $$
declare
  f record;
  body text := '';
  value_sql text;
  existing oid;
  index_name text;
  trigger_fn text := rillflow_object_name(array[p_collection, 'rf_sync']);
  relation regclass := format('%I.%I', current_schema(), p_collection)::regclass;
begin
  for f in select * from rillflow_duplicated_fields where collection = p_collection order by column_name loop
    select a.atttypid into existing from pg_attribute a
     where a.attrelid = relation and a.attname = f.column_name and a.attnum > 0 and not a.attisdropped;
    if existing is not null and existing <> f.data_type::regtype then
      execute format('alter table %I drop column %I', p_collection, f.column_name);
      existing := null;
    end if;
    if existing is null then
      execute format('alter table %I add column %I %s', p_collection, f.column_name, f.data_type);
      update rillflow_duplicated_fields set state = 'pending', updated_at = now()
       where collection = p_collection and column_name = f.column_name;
    end if;
    index_name := rillflow_object_name(array[p_collection, f.column_name, 'idx']);
    if not f.indexed then
      execute format('drop index if exists %I', index_name);
    elsif f.data_type = 'jsonb' then
      execute format('create index if not exists %I on %I using gin (%I jsonb_path_ops)',
        index_name, p_collection, f.column_name);
    else
      execute format('create index if not exists %I on %I (%I)', index_name, p_collection, f.column_name);
    end if;
    value_sql := case when f.data_type = 'jsonb' then format('(NEW.doc #> %L)', f.json_path)
                      else format('(NEW.doc #>> %L)::%s', f.json_path, f.data_type) end;
    if f.transform is not null then value_sql := replace(f.transform, '{value}', value_sql); end if;
    body := body || format('NEW.%I := (%s)::%s; ', f.column_name, value_sql, f.data_type);
  end loop;
  execute format('create or replace function %I() returns trigger language plpgsql as %L',
    trigger_fn, 'begin ' || body || 'return NEW; end');
  execute format('drop trigger if exists %I on %I', trigger_fn, p_collection);
  execute format('create trigger %I before insert or update of doc on %I for each row execute function %I()',
    trigger_fn, p_collection, trigger_fn);
end
$$;

-- Recomputes duplicated columns for the next batch of rows after p_after (by
-- id); returns the last id done (null when no rows are left) and the count.
create function rillflow_backfill_duplicated_fields(p_collection text, p_after uuid, p_limit integer)
returns table (last_id uuid, touched integer)
language plpgsql set search_path from current as $$
begin
  return query execute format($sql$
    with batch as (select id from %1$I where $1::uuid is null or id > $1 order by id limit $2),
         done as (update %1$I as t set doc = t.doc from batch where t.id = batch.id returning t.id)
    select (select id from batch order by id desc limit 1), (select count(*)::int from done)$sql$,
    p_collection) using p_after, p_limit;
end
$$;

-- Sets a path inside a document, creating missing intermediate objects (or
-- arrays, where p_kinds marks the next segment as an array index: 'i').
create function rillflow_jsonb_set_path(p_target jsonb, p_path text[], p_kinds text, p_value jsonb)
returns jsonb
language plpgsql immutable as $$
declare
  n integer := cardinality(p_path);
  containers jsonb[] := array[]::jsonb[];
  cur jsonb := p_target;
  result jsonb := p_value;
begin
  for i in 1..n loop
    if cur is null or jsonb_typeof(cur) not in ('object', 'array') then
      cur := case when substr(p_kinds, i, 1) = 'i' then '[]'::jsonb else '{}'::jsonb end;
    end if;
    containers := containers || cur;
    cur := cur #> array[p_path[i]];
  end loop;
  for i in reverse n..1 loop
    result := jsonb_set(containers[i], array[p_path[i]], result, true);
  end loop;
  return result;
end
$$;

-- Applies patch operations ({op, path, kinds, value | by | to}) in order.
create function rillflow_patch(p_doc jsonb, p_ops jsonb) returns jsonb
language plpgsql immutable set search_path from current as $$
declare
  op jsonb;
  path text[];
  kinds text;
  result jsonb := p_doc;
  cur jsonb;
  n integer;
begin
  for op in select value from jsonb_array_elements(p_ops) loop
    path := array(select jsonb_array_elements_text(op -> 'path'));
    kinds := op ->> 'kinds';
    n := cardinality(path);
    cur := result #> path;
    case op ->> 'op'
      when 'set' then
        result := rillflow_jsonb_set_path(result, path, kinds, op -> 'value');
      when 'increment' then
        if cur is not null and jsonb_typeof(cur) <> 'number' then
          raise exception 'Cannot increment "%": it holds a %, not a number',
            array_to_string(path, '.'), jsonb_typeof(cur) using errcode = '22023';
        end if;
        result := rillflow_jsonb_set_path(result, path, kinds,
          to_jsonb(coalesce(cur::numeric, 0) + (op ->> 'by')::numeric));
      when 'append' then
        if cur is not null and jsonb_typeof(cur) <> 'array' then
          raise exception 'Cannot append to "%": it holds a %, not an array',
            array_to_string(path, '.'), jsonb_typeof(cur) using errcode = '22023';
        end if;
        result := rillflow_jsonb_set_path(result, path, kinds,
          coalesce(cur, '[]'::jsonb) || jsonb_build_array(op -> 'value'));
      when 'remove' then
        result := result #- path;
      when 'rename' then
        if cur is not null then
          result := rillflow_jsonb_set_path(result #- path, path[1:n - 1] || (op ->> 'to'),
            left(kinds, n - 1) || 'k', cur);
        end if;
      else
        raise exception 'Unknown patch operation "%"', op ->> 'op' using errcode = '22023';
    end case;
  end loop;
  return result;
end
$$;

select rillflow_create_collection('docs', 'english');

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
  stream_version integer not null check (stream_version > 0),
  state jsonb not null,
  created_at timestamptz not null default now(),
  primary key (stream_id, aggregate)
);

-- The streams an aggregate repository created, so the snapshotter knows which
-- aggregate folds which stream. Kept apart from streams: plain appends never
-- pay for it.
create table aggregate_streams (
  aggregate text not null,
  stream_id uuid not null,
  registered_at timestamptz not null default now(),
  primary key (aggregate, stream_id)
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
