-- check=any one=true keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, (select coalesce(max(stream_seq), 0) from "app"."events" where stream_id = $1) + 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_seq;

-- check=any one=true keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, (select coalesce(max(stream_seq), 0) from "app"."events" where stream_id = $1) + 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at;

-- check=any one=false keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=any one=false keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=any one=false keyed=false categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=any one=false keyed=false categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=any one=false keyed=true categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=any one=false keyed=true categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=any one=false keyed=true categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=any one=false keyed=true categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=create one=true keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
returning global_seq, stream_seq;

-- check=create one=true keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at;

-- check=create one=false keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=create one=false keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=create one=false keyed=false categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=create one=false keyed=false categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=create one=false keyed=true categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=create one=false keyed=true categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=create one=false keyed=true categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=create one=false keyed=true categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (select 0 as version, false as archived where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exact one=true keyed=false categorized=false envelopes=false
-- binds: stream, expected, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, $2::int + 1,
       $3::text, $4::text::jsonb, $5::int, $6::text::jsonb, $7::text, $8::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and exists (select 1 from "app"."events" where stream_id = $1 and stream_seq = $2::int)
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_seq;

-- check=exact one=true keyed=false categorized=false envelopes=true
-- binds: stream, expected, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, $2::int + 1,
       $3::text, $4::text::jsonb, $5::int, $6::text::jsonb, $7::text, $8::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and exists (select 1 from "app"."events" where stream_id = $1 and stream_seq = $2::int)
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at;

-- check=exact one=false keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation, expected
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $8::int
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exact one=false keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation, expected
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $8::int
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exact one=false keyed=false categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation, expected
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $9::int
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exact one=false keyed=false categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation, expected
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $9::int
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exact one=false keyed=true categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation, expected, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $8::int and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exact one=false keyed=true categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation, expected, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $8::int and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exact one=false keyed=true categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation, expected, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $9::int and not exists (select 1 from "app"."idempotency_keys" where key = $10)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $10, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $11
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exact one=false keyed=true categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation, expected, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version = $9::int and not exists (select 1 from "app"."idempotency_keys" where key = $10)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $10, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $11
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exists one=true keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, (select max(stream_seq) from "app"."events" where stream_id = $1) + 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and exists (select 1 from "app"."events" where stream_id = $1)
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_seq;

-- check=exists one=true keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
insert into "app"."events"
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select $1, (select max(stream_seq) from "app"."events" where stream_id = $1) + 1,
       $2::text, $3::text::jsonb, $4::int, $5::text::jsonb, $6::text, $7::text, null::text
 where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''
   and exists (select 1 from "app"."events" where stream_id = $1)
   and not exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null)
returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at;

-- check=exists one=false keyed=false categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exists one=false keyed=false categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exists one=false keyed=false categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0
   order by e.ord
  returning global_seq, stream_seq)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exists one=false keyed=false categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exists one=false keyed=true categorized=false envelopes=false
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0 and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exists one=false keyed=true categorized=false envelopes=true
-- binds: stream, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v,
         rows from (unnest($2::text[]), jsonb_array_elements($3::text::jsonb),
                    unnest($4::int[]), jsonb_array_elements($5::text::jsonb),
                    unnest($6::text[]), unnest($7::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0 and not exists (select 1 from "app"."idempotency_keys" where key = $8)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $8, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $9
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;

-- check=exists one=false keyed=true categorized=true envelopes=false
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0 and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_seq),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select v.version, v.archived,
       array(select global_seq from written order by stream_seq) as seqs
  from v;

-- check=exists one=false keyed=true categorized=true envelopes=true
-- binds: stream, category, types, datas, versions, headers, causation, correlation, key, hash
with v as (
  select (select coalesce(max(stream_seq), 0) from "app"."events"
           where stream_id = $1) as version,
         exists (select 1 from "app"."streams"
                  where stream_id = $1 and archived_at is not null) as archived
   where pg_advisory_xact_lock_shared(9978::bigint * 281474976710656 +
            coalesce(pg_sequence_last_value('"app"."events_global_seq"'::regclass), 0))::text = ''),
meta as (
  insert into "app"."streams" as s (stream_id, category)
  select $1, $2::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1),
written as (
  insert into "app"."events"
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select $1, v.version + e.ord, e.type, e.data, e.version, e.headers, e.causation,
         e.correlation, null::text
    from v, meta,
         rows from (unnest($3::text[]), jsonb_array_elements($4::text::jsonb),
                    unnest($5::int[]), jsonb_array_elements($6::text::jsonb),
                    unnest($7::text[]), unnest($8::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)
   where not v.archived and v.version > 0 and not exists (select 1 from "app"."idempotency_keys" where key = $9)
   order by e.ord
  returning global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at),
kept as (
  insert into "app"."idempotency_keys"
    (key, stream_id, stream_version, global_seqs, request_hash)
  select $9, $1, max(stream_seq), array_agg(global_seq order by stream_seq), $10
    from written having count(*) > 0)
select global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version, tenant_id, user_id, created_at from written order by global_seq;
