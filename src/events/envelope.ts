/**
 * The stored form of an event as every read path returns it.
 *
 * @module
 */

/** An event as stored: data plus its position and metadata. */
export interface EventEnvelope<D = unknown> {
  /** Position in the store-wide order; the public cursor of every reader. */
  readonly globalSeq: number;
  /** The stream (a UUID). */
  readonly streamId: string;
  /** Position within the stream, from 1 with no gaps. */
  readonly streamSeq: number;
  /** The event type. */
  readonly type: string;
  /** The event's data (upcast to the current version on read). */
  readonly data: D;
  /** Headers given at append time merged over the store's session headers. */
  readonly headers: Record<string, unknown>;
  /** The id of the message that caused this event. */
  readonly causationId: string | null;
  /** The id correlating this event with a wider conversation. */
  readonly correlationId: string | null;
  /** The schema version of `data`. */
  readonly eventVersion: number;
  /** The tenant that appended it, under schema-per-tenant. */
  readonly tenantId: string | null;
  /** The user that appended it, when known. */
  readonly userId: string | null;
  /** When it was appended. */
  readonly createdAt: Date;
}

/** The columns of the events table in the order {@linkcode toEnvelope} reads them. */
export const ENVELOPE_COLUMNS =
  "global_seq, stream_id, stream_seq, type, data, headers, causation_id, correlation_id, " +
  "event_version, tenant_id, user_id, created_at";

/**
 * The columns of the events table aliased to the envelope's field names: the
 * rows a query returns with them ARE envelopes (both drivers return plain
 * objects keyed by column name), with no per-row copy on large reads.
 */
export const ENVELOPE_SELECT = 'global_seq as "globalSeq", stream_id as "streamId", ' +
  'stream_seq as "streamSeq", type, data, headers, causation_id as "causationId", ' +
  'correlation_id as "correlationId", event_version as "eventVersion", ' +
  'tenant_id as "tenantId", user_id as "userId", created_at as "createdAt"';

/** A row of the events table. */
export interface EventRow {
  global_seq: number;
  stream_id: string;
  stream_seq: number;
  type: string;
  data: unknown;
  headers: Record<string, unknown>;
  causation_id: string | null;
  correlation_id: string | null;
  event_version: number;
  tenant_id: string | null;
  user_id: string | null;
  created_at: Date;
}

/**
 * Maps a row of the events table to an envelope.
 *
 * @param row The row.
 * @returns The envelope.
 */
export function toEnvelope(row: EventRow): EventEnvelope {
  return {
    globalSeq: row.global_seq,
    streamId: row.stream_id,
    streamSeq: row.stream_seq,
    type: row.type,
    data: row.data,
    headers: row.headers,
    causationId: row.causation_id,
    correlationId: row.correlation_id,
    eventVersion: row.event_version,
    tenantId: row.tenant_id,
    userId: row.user_id,
    createdAt: row.created_at,
  };
}
