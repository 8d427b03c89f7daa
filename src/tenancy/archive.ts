/**
 * Tenant archives: every table of a tenant's schema as JSON Lines, with a
 * manifest of columns, row counts and SHA-256 checksums. Generic over tables,
 * so documents, collections, events, snapshots, checkpoints and anything a
 * later migration adds travel without special cases.
 *
 * @module
 */
import type { Executor, InternalTx } from "../db/executor.ts";
import { qualify, quoteIdent } from "../db/identifiers.ts";
import { RillflowError } from "../errors.ts";
import { LEDGER_TABLE } from "../schema/schema_manager.ts";

/** One table in an archive. */
export interface ArchivedTable {
  /** The table name. */
  readonly name: string;
  /** The insertable columns and their types (generated columns excluded). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  /** Rows written. */
  readonly rows: number;
  /** The JSON Lines file, relative to the archive directory. */
  readonly file: string;
  /** Hex SHA-256 of the file. */
  readonly sha256: string;
}

/** The `manifest.json` of an archive. */
export interface ArchiveManifest {
  /** Always `"rillflow-tenant-archive"`. */
  readonly format: "rillflow-tenant-archive";
  /** The manifest format version. */
  readonly formatVersion: 1;
  /** The tenant archived. */
  readonly tenant: string;
  /** When the archive was written (ISO 8601). */
  readonly createdAt: string;
  /** Migration versions applied to the tenant when archived. */
  readonly migrations: number[];
  /** The tables, in an order that satisfies foreign keys on restore. */
  readonly tables: ArchivedTable[];
}

const PAGE = 5_000;

/** Column types as format_type prints them; anything else in a manifest is rejected. */
const TYPE_PATTERN = /^[a-z][a-z0-9_ ]*(\(\d+(, ?\d+)?\))?( with(out)? time zone)?(\[\])*$/;

function safeType(type: string): string {
  if (typeof type !== "string" || !TYPE_PATTERN.test(type)) {
    throw new RillflowError(
      "INVALID_INPUT",
      `Archive names an unsupported column type ${JSON.stringify(type)}`,
    );
  }
  return type;
}
const encoder = new TextEncoder();

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Tables of a schema, referenced tables before the tables referencing them. */
async function tablesInDependencyOrder(tx: InternalTx, schema: string): Promise<string[]> {
  const tables = (await tx.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition order by 1`,
    [schema],
  )).map((r) => r.name).filter((name) => name !== LEDGER_TABLE);
  const edges = await tx.query<{ child: string; parent: string }>(
    `select c.relname as child, p.relname as parent from pg_constraint k
       join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid
       join pg_namespace n on n.oid = c.relnamespace
      where k.contype = 'f' and n.nspname = $1 and c.oid <> p.oid`,
    [schema],
  );
  const ordered: string[] = [];
  const visit = (table: string, seen: Set<string>) => {
    if (ordered.includes(table) || seen.has(table)) return;
    seen.add(table);
    for (const edge of edges) if (edge.child === table) visit(edge.parent, seen);
    ordered.push(table);
  };
  for (const table of tables) visit(table, new Set());
  return ordered;
}

async function columnsOf(tx: InternalTx, schema: string, table: string) {
  return await tx.query<{ name: string; type: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped
        and a.attgenerated = '' order by a.attnum`,
    [schema, table],
  );
}

/**
 * Writes every table of `schema` to `dir` as JSON Lines plus `manifest.json`,
 * from one consistent snapshot.
 *
 * @param executor The database.
 * @param tenant The tenant's name (recorded in the manifest).
 * @param schema The tenant's schema.
 * @param dir The output directory (created when missing).
 * @returns The manifest written.
 */
export async function archiveSchema(
  executor: Executor,
  tenant: string,
  schema: string,
  dir: string,
): Promise<ArchiveManifest> {
  await Deno.mkdir(dir, { recursive: true });
  return await executor.transaction(async (tx) => {
    const tables: ArchivedTable[] = [];
    for (const name of await tablesInDependencyOrder(tx, schema)) {
      const columns = await columnsOf(tx, schema, name);
      const list = columns.map((c) => quoteIdent(c.name)).join(", ");
      const chunks: Uint8Array[] = [];
      let rows = 0;
      let after = "(0,0)";
      for (;;) {
        const page = await tx.query<{ line: string; at: string }>(
          `select row_to_json(r)::text as line, r.at::text as at
             from (select ${list}, ctid as at from ${qualify(schema, name)}
                    where ctid > $1::tid order by ctid limit ${PAGE}) r`,
          [after],
        );
        for (const row of page) {
          const record = JSON.parse(row.line);
          delete record.at;
          chunks.push(encoder.encode(JSON.stringify(record) + "\n"));
        }
        rows += page.length;
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.at;
      }
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      chunks.reduce((offset, c) => (bytes.set(c, offset), offset + c.length), 0);
      const file = `${name}.jsonl`;
      await Deno.writeFile(`${dir}/${file}`, bytes);
      tables.push({ name, columns, rows, file, sha256: await sha256Hex(bytes) });
    }
    const migrations = (await tx.query<{ version: number }>(
      `select version from ${qualify(schema, LEDGER_TABLE)} order by version`,
    )).map((r) => r.version);
    const manifest: ArchiveManifest = {
      format: "rillflow-tenant-archive",
      formatVersion: 1,
      tenant,
      createdAt: new Date().toISOString(),
      migrations,
      tables,
    };
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
    return manifest;
  }, { isolation: "repeatable read" });
}

/**
 * Reads and verifies an archive's manifest and files (checksums, row counts).
 *
 * @param dir The archive directory.
 * @returns The manifest and each table's lines.
 * @throws {RillflowError} `INVALID_INPUT` when the manifest or a file is missing or altered.
 */
export async function readArchive(
  dir: string,
): Promise<{ manifest: ArchiveManifest; lines: Map<string, string[]> }> {
  let manifest: ArchiveManifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch (error) {
    throw new RillflowError("INVALID_INPUT", `No readable archive manifest in ${dir}`, {
      cause: error,
    });
  }
  if (manifest?.format !== "rillflow-tenant-archive" || !Array.isArray(manifest.tables)) {
    throw new RillflowError(
      "INVALID_INPUT",
      `${dir}/manifest.json is not a Rillflow tenant archive`,
    );
  }
  const lines = new Map<string, string[]>();
  for (const table of manifest.tables) {
    const bytes = await Deno.readFile(`${dir}/${table.file}`);
    if ((await sha256Hex(bytes)) !== table.sha256) {
      throw new RillflowError("INVALID_INPUT", `Archive file ${table.file} fails its checksum`);
    }
    const text = new TextDecoder().decode(bytes);
    const rows = text.length === 0 ? [] : text.replace(/\n$/, "").split("\n");
    if (rows.length !== table.rows) {
      throw new RillflowError(
        "INVALID_INPUT",
        `Archive file ${table.file} has ${rows.length} rows, the manifest says ${table.rows}`,
      );
    }
    lines.set(table.name, rows);
  }
  return { manifest, lines };
}

/**
 * Creates the archived tables the migrations did not: collections through the
 * schema's own `rillflow_create_collection` (same shape, indexes and search
 * column), anything else as a bare table; then adds missing columns.
 */
async function createMissingTables(
  tx: InternalTx,
  schema: string,
  archive: { manifest: ArchiveManifest; lines: Map<string, string[]> },
): Promise<void> {
  const languages = new Map(
    (archive.lines.get("rillflow_collections") ?? []).map((line) => {
      const row = JSON.parse(line) as { name: string; search_language?: string };
      return [row.name, row.search_language ?? "english"] as const;
    }),
  );
  for (const table of archive.manifest.tables) {
    const target = qualify(schema, table.name);
    const [found] = await tx.query<{ exists: boolean }>(
      "select to_regclass($1) is not null as exists",
      [target],
    );
    if (!found?.exists) {
      const language = languages.get(table.name);
      if (language !== undefined) {
        await tx.query(`select ${quoteIdent(schema)}.rillflow_create_collection($1, $2)`, [
          table.name,
          language,
        ]);
        await tx.query(`delete from ${qualify(schema, "rillflow_collections")} where name = $1`, [
          table.name,
        ]);
      } else {
        await tx.query(`create table ${target} ()`);
      }
    }
    for (const column of table.columns) {
      await tx.query(
        `alter table ${target} add column if not exists ${quoteIdent(column.name)} ${
          safeType(column.type)
        }`,
      );
    }
  }
}

/**
 * Loads a verified archive into an empty, migrated schema in one transaction,
 * creating tables the migrations do not (collections) and resetting sequences.
 *
 * @param executor The database.
 * @param schema The target schema (already migrated, holding no rows).
 * @param archive From {@linkcode readArchive}.
 * @returns Rows loaded per table.
 */
export async function restoreSchema(
  executor: Executor,
  schema: string,
  archive: { manifest: ArchiveManifest; lines: Map<string, string[]> },
): Promise<Record<string, number>> {
  return await executor.transaction(async (tx) => {
    await createMissingTables(tx, schema, archive);
    const loaded: Record<string, number> = {};
    for (const table of archive.manifest.tables) {
      const target = qualify(schema, table.name);
      const rows = archive.lines.get(table.name) ?? [];
      const list = table.columns.map((c) => quoteIdent(c.name)).join(", ");
      // The archive is the source of truth: rows seeded by migrations are replaced.
      await tx.query(`delete from ${target}`);
      for (let i = 0; i < rows.length; i += 1000) {
        await tx.query(
          `insert into ${target} (${list}) select ${list}
             from json_populate_recordset(null::${target}, $1::json)`,
          [`[${rows.slice(i, i + 1000).join(",")}]`],
        );
      }
      loaded[table.name] = rows.length;
    }
    const sequences = await tx.query<{ seq: string; tbl: string; col: string }>(
      `select s.relname as seq, t.relname as tbl, a.attname as col
         from pg_depend d
         join pg_class s on s.oid = d.objid and s.relkind = 'S'
         join pg_class t on t.oid = d.refobjid
         join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
         join pg_namespace n on n.oid = s.relnamespace
        where n.nspname = $1 and d.deptype in ('a', 'i')`,
      [schema],
    );
    for (const { seq, tbl, col } of sequences) {
      await tx.query(
        `select setval($1::regclass, greatest(coalesce((select max(${quoteIdent(col)}) from ${
          qualify(schema, tbl)
        }), 0), 1), (select count(*) > 0 from ${qualify(schema, tbl)}))`,
        [qualify(schema, seq)],
      );
    }
    return loaded;
  });
}
