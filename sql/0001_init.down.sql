drop table if exists subscription_dead_letters;
drop table if exists subscription_retries;
drop table if exists subscription_acks;
drop table if exists subscription_members;
drop table if exists subscription_leases;
drop table if exists subscription_partitions;
drop table if exists subscription_groups;
drop table if exists subscriptions;
drop table if exists projection_dead_letters;
drop table if exists projections;
drop table if exists aggregate_streams;
drop table if exists snapshots;
drop table if exists stream_aliases;
drop table if exists idempotency_keys;
drop table if exists events;
drop sequence if exists events_global_seq;
drop table if exists streams;
-- Documents: every collection table (with its history table and triggers),
-- then the registry and the functions.
do $$
declare
  c record;
begin
  if to_regclass('rillflow_collections') is not null then
    for c in select name from rillflow_collections loop
      execute format('drop table if exists %I cascade', c.name);
      execute format('drop table if exists %I cascade', rillflow_object_name(array[c.name, 'history']));
      execute format('drop function if exists %I()', rillflow_object_name(array[c.name, 'rf_sync']));
      execute format('drop function if exists %I()', rillflow_object_name(array[c.name, 'rf_history']));
    end loop;
  end if;
end
$$;
drop table if exists docs;
drop table if exists rillflow_duplicated_fields;
drop table if exists rillflow_collections;
drop function if exists rillflow_patch(jsonb, jsonb);
drop function if exists rillflow_jsonb_set_path(jsonb, text[], text, jsonb);
drop function if exists rillflow_backfill_duplicated_fields(text, uuid, integer);
drop function if exists rillflow_apply_duplicated_fields(text);
drop function if exists rillflow_enable_history(text);
drop function if exists rillflow_set_search_language(text, text);
drop function if exists rillflow_ensure_collection(text);
drop function if exists rillflow_create_collection(text, text);
drop function if exists rillflow_object_name(text[]);
