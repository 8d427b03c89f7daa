alter table subscription_members drop column heartbeat_interval_ms;
alter table subscription_members drop column heartbeat_at;
