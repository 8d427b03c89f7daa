/**
 * `rillflow docs …`: read and repair documents, explain queries, advise
 * indexes and manage duplicated fields.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import type { Store } from "../../store.ts";
import { contextOf } from "../../_context.ts";
import { RillflowError } from "../../errors.ts";
import { validateCollectionName } from "../../schema/collection_name.ts";
import { collectionExists, ensureCollection } from "../../schema/collection.ts";
import { backfillDuplicatedFields, listDuplicatedFields } from "../../schema/duplicated_fields.ts";
import { suggestDuplicatedFields } from "../../documents/field_suggestions.ts";
import { adviseIndex } from "../../query/index_advisor.ts";
import { applyQueryJson, parseQueryJson } from "../../query/query_json.ts";

type CollectionOption = { collection: string };

async function requireCollection(store: Store, name: string): Promise<void> {
  validateCollectionName(name);
  if (!(await collectionExists(contextOf(store), name))) {
    throw new RillflowError(
      "INVALID_INPUT",
      `Unknown collection "${name}" in schema "${store.schema.schemaName}"`,
    );
  }
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  }
  return n;
}

function registerDocumentCommands(docs: Command, cli: CliContext): void {
  docs.command("get <id>")
    .description("print a document with its metadata (exit 1 when it does not exist)")
    .option("--collection <name>", "the collection", "docs")
    .option("--include-deleted", "also show a soft-deleted document")
    .action(
      async (
        id: string,
        options: CollectionOption & { includeDeleted?: boolean },
        command: Command,
      ) => {
        const found = await cli.withStore(command, async (store) => {
          await requireCollection(store, options.collection);
          return await store.docs(options.collection).getWithMetadata(id, {
            includeDeleted: options.includeDeleted === true,
          });
        });
        if (!found) {
          throw new RillflowError(
            "DOCUMENT_NOT_FOUND",
            `Document "${id}" does not exist in "${options.collection}"`,
          );
        }
        cli.print(command, found, () => JSON.stringify(found, null, 2));
      },
    );

  for (
    const [name, verb, description] of [
      ["soft-delete", "softDelete", "hide a document from reads and queries (it can be restored)"],
      ["restore", "restore", "make a soft-deleted document visible again"],
    ] as const
  ) {
    docs.command(`${name} <id>`)
      .description(description)
      .option("--collection <name>", "the collection", "docs")
      .action(async (id: string, options: CollectionOption, command: Command) => {
        await cli.withStore(command, async (store) => {
          await requireCollection(store, options.collection);
          await store.docs(options.collection)[verb](id);
        });
        const done = name === "restore" ? "restored" : "soft-deleted";
        cli.print(
          command,
          { id, collection: options.collection, [done]: true },
          () => `Document "${id}" in "${options.collection}" is ${done}.`,
        );
      });
  }
}

function registerQueryCommands(docs: Command, cli: CliContext): void {
  docs.command("index-advisor")
    .description("print the DDL of an index on a document path of a collection")
    .requiredOption("--field <path>", "the dotted path queried (such as email or profile.age)")
    .option("--gin", "a GIN index for contains() instead of a btree for comparisons and sorting")
    .option("--collection <name>", "the collection", "docs")
    .action((options: CollectionOption & { field: string; gin?: boolean }, command: Command) => {
      const { schema } = cli.globals(command);
      validateCollectionName(options.collection);
      const advice = adviseIndex(schema, options.collection, options.field, {
        gin: options.gin === true,
      });
      cli.print(
        command,
        advice,
        () =>
          `-- serves ${advice.serves}\n-- a duplicated field (SchemaConfig) is faster still for equality\n${advice.ddl}`,
      );
    });

  docs.command("explain <query-json>")
    .description(
      'print the SQL and plan of a JSON query, e.g. \'{"filter": {"eq": ["status", "active"]}}\'',
    )
    .option("--collection <name>", "the collection, unless the query names one", "docs")
    .option("--analyze", "run the query and show actual times (EXPLAIN ANALYZE)")
    .action(
      async (text: string, options: CollectionOption & { analyze?: boolean }, command: Command) => {
        const json = parseQueryJson(text);
        const collection = json.collection ?? options.collection;
        const result = await cli.withStore(command, async (store) => {
          await requireCollection(store, collection);
          const context = contextOf(store);
          await ensureCollection(context, collection);
          const sql = applyQueryJson(store.docs(collection).query(), json).toSql();
          const rows = await context.executor.query<Record<string, string>>(
            `explain ${options.analyze ? "analyze " : ""}${sql.text}`,
            sql.params,
          );
          return {
            collection,
            sql: sql.text,
            params: sql.params,
            plan: rows.map((r) => Object.values(r)[0]),
          };
        });
        cli.print(command, result, () =>
          [
            result.sql.replace(/\s+/g, " "),
            `-- params: ${JSON.stringify(result.params)}`,
            "",
            ...result.plan,
          ].join("\n"));
      },
    );
}

function registerDuplicatedFieldCommands(docs: Command, cli: CliContext): void {
  const fields = docs.command("duplicated-fields").description(
    "duplicated fields (typed, indexed copies of paths)",
  );
  fields.command("list")
    .description("list registered duplicated fields and whether they are ready")
    .option("--collection <name>", "only this collection")
    .action(async (options: Partial<CollectionOption>, command: Command) => {
      if (options.collection) validateCollectionName(options.collection);
      const list = await cli.withStore(
        command,
        (store) =>
          listDuplicatedFields(
            contextOf(store).executor,
            store.schema.schemaName,
            options.collection,
          ),
      );
      cli.print(
        command,
        list,
        () =>
          list.length === 0
            ? "No duplicated fields."
            : list.map((f) =>
              `${f.collection}.${f.column} ${f.type} ← ${f.path}${
                f.transform ? ` via ${f.transform}` : ""
              }` +
              `${f.indexed ? ", indexed" : ""}, ${f.state}`
            ).join("\n"),
      );
    });

  fields.command("suggest")
    .description("sample a collection and suggest paths worth duplicating")
    .option("--collection <name>", "the collection", "docs")
    .option("--sample <n>", "documents to sample", "1000")
    .action(async (options: CollectionOption & { sample: string }, command: Command) => {
      const sample = positiveInt(options.sample, "--sample");
      const suggestions = await cli.withStore(command, async (store) => {
        await requireCollection(store, options.collection);
        const context = contextOf(store);
        return await suggestDuplicatedFields(
          context.executor,
          await ensureCollection(context, options.collection),
          sample,
        );
      });
      cli.print(
        command,
        suggestions,
        () =>
          suggestions.length === 0
            ? `No suggestions for "${options.collection}".`
            : suggestions.map((s) =>
              `new DuplicatedField(${JSON.stringify(s.path)}, ${JSON.stringify(s.column)}, ${
                JSON.stringify(s.type)
              })` +
              `  // in ${
                Math.round(s.coverage * 100)
              }% of documents, ${s.distinctValues} distinct values`
            ).join("\n"),
      );
    });

  fields.command("backfill")
    .description("recompute pending duplicated columns in batches and mark them ready")
    .option("--collection <name>", "only this collection")
    .option("--batch-size <n>", "rows per transaction", "5000")
    .action(
      async (options: Partial<CollectionOption> & { batchSize: string }, command: Command) => {
        const batchSize = positiveInt(options.batchSize, "--batch-size");
        if (options.collection) validateCollectionName(options.collection);
        const terminal = Deno.stderr.isTerminal();
        const results = await cli.withStore(command, async (store) => {
          const { executor } = contextOf(store);
          const schema = store.schema.schemaName;
          const all = await listDuplicatedFields(executor, schema, options.collection);
          const collections = [...new Set(all.map((f) => f.collection))];
          const out: { collection: string; rows: number }[] = [];
          for (const collection of collections) {
            const rows = await backfillDuplicatedFields(executor, schema, collection, {
              batchSize,
              onProgress: terminal
                ? (p) => cli.io.err(`\r${p.collection}: ${p.rows} rows`)
                : undefined,
            });
            if (terminal && rows > 0) cli.io.err("\n");
            out.push({ collection, rows });
          }
          return out;
        });
        cli.print(
          command,
          results,
          () =>
            results.length === 0
              ? "No duplicated fields to backfill."
              : results.map((r) => `${r.collection}: ${r.rows} rows recomputed, fields ready`).join(
                "\n",
              ),
        );
      },
    );
}

/**
 * Registers the `docs` command group.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerDocsCommands(program: Command, cli: CliContext): void {
  const docs = program.command("docs").description(
    "documents: read, soft-delete, restore, explain, index advice",
  );
  registerDocumentCommands(docs, cli);
  registerQueryCommands(docs, cli);
  registerDuplicatedFieldCommands(docs, cli);
}
