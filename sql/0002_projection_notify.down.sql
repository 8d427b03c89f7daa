drop trigger if exists events_notify on events;
drop function if exists rillflow_notify_events();
