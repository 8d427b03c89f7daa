-- Stream versions come from the events themselves: an append reads the
-- stream's highest stream_seq through the events_stream_seq_unique index and
-- inserts above it, and that unique index rejects a concurrent writer that
-- read the same version (invariant 3). A plain append therefore writes one
-- row, its event, like a bare INSERT. streams keeps what is not an event:
-- the category, the archive mark and when the stream was first named (by an
-- alias, an append naming a category, or archiving); most streams have no
-- row at all.
alter table streams drop column version;
alter table streams drop column updated_at;
delete from streams where category is null and archived_at is null;
alter table streams reset (fillfactor);
