/**
 * The versioned migrations shipped in `sql/`, imported as text so they
 * travel with the module graph.
 *
 * @module
 */
import init from "../../sql/0001_init.sql" with { type: "text" };
import initDown from "../../sql/0001_init.down.sql" with { type: "text" };
import streamVersions from "../../sql/0002_stream_versions.sql" with { type: "text" };
import streamVersionsDown from "../../sql/0002_stream_versions.down.sql" with { type: "text" };
import memberHeartbeats from "../../sql/0003_member_heartbeats.sql" with { type: "text" };
import memberHeartbeatsDown from "../../sql/0003_member_heartbeats.down.sql" with { type: "text" };

/** One versioned migration: forward and backward DDL, schema-unqualified. */
export interface Migration {
  /** The version, from the file name's `NNNN` prefix. */
  readonly version: number;
  /** The name after the prefix. */
  readonly name: string;
  /** The forward DDL. */
  readonly up: string;
  /** The DDL that reverses `up`. */
  readonly down: string;
}

/** Every migration, in version order. Add new files here. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "init", up: init, down: initDown },
  { version: 2, name: "stream_versions", up: streamVersions, down: streamVersionsDown },
  { version: 3, name: "member_heartbeats", up: memberHeartbeats, down: memberHeartbeatsDown },
];

/**
 * The checksum recorded in the ledger for a migration's forward DDL.
 *
 * @param text The DDL.
 * @returns Hex SHA-256 of the text with line endings normalised.
 */
export async function checksumOf(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text.replaceAll("\r\n", "\n"));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
