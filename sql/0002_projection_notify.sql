-- Wake-ups for projection daemons and subscribers: every statement that
-- inserts events sends one NOTIFY on channel rillflow_events whose payload is
-- the schema name, so listeners of several schemas can tell stores apart.
-- Statement-level: one notification per append, however many events it wrote;
-- PostgreSQL also folds identical notifications of one transaction into one.
create function rillflow_notify_events() returns trigger
language plpgsql as $$
begin
  perform pg_notify('rillflow_events', tg_table_schema);
  return null;
end
$$;

create trigger events_notify after insert on events
  for each statement execute function rillflow_notify_events();
