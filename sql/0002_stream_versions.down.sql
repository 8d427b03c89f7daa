-- Back to a version row per stream, recomputed from the events.
alter table streams set (fillfactor = 80);
alter table streams add column version integer not null default 0 check (version >= 0);
alter table streams add column updated_at timestamptz not null default now();
insert into streams (stream_id, version)
select stream_id, max(stream_seq) from events group by stream_id
on conflict (stream_id) do update set version = excluded.version;
alter table streams alter column version drop default;
