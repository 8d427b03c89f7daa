-- Wake-ups for projection daemons and subscribers: every statement that
-- inserts events sends one NOTIFY on channel rillflow_events whose payload is
-- the schema name, so listeners of several schemas can tell stores apart.
-- Statement-level: one notification per append, however many events it wrote;
-- PostgreSQL also folds identical notifications of one transaction into one.
--
-- A notifying transaction holds a database-wide lock through its commit, so
-- concurrent appenders commit one at a time. Write-heavy deployments can turn
-- the notification off (readers then poll):
--   alter database app set rillflow.notify = 'off';   -- or per role / session
create function rillflow_notify_events() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('rillflow.notify', true), '') <> 'off' then
    perform pg_notify('rillflow_events', tg_table_schema);
  end if;
  return null;
end
$$;

create trigger events_notify after insert on events
  for each statement execute function rillflow_notify_events();
