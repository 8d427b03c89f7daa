/**
 * Bulk inserts (src/documents/bulk.ts): the route each size takes, the SQL it
 * sends, statements split by rows and by size, all-or-nothing across
 * statements, escaping, and duplicated fields filled on both routes.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { DuplicatedField, RillflowError, SchemaConfig, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import type { Executor, InternalTx } from "../src/db/executor.ts";
import { ensureCollection } from "../src/schema/collection.ts";
import { COPY_MIN_ROWS, insertDocuments, prepareRows } from "../src/documents/bulk.ts";

const INSERT_SQL = `insert into "SCHEMA"."bulk" (id, doc)
       select r.id, r.doc from jsonb_to_recordset($1::text::jsonb) as r(id uuid, doc jsonb)`;

type Doc = { i: number; text?: string; email?: string };

/** Text that COPY's text format and a JSON array both have to carry unchanged. */
const AWKWARD =
  'tab\there, newline\nthere, back\\slash \\\\ \\u0000 \\N, "quote", ünïcode ✓ 😀 \u2028';

function rows(n: number, first = 0): Array<{ id: string; doc: Doc }> {
  return Array.from({ length: n }, (_, k) => {
    const i = first + k;
    return { id: crypto.randomUUID(), doc: { i, text: i % 97 === 0 ? AWKWARD : "x" } };
  });
}

/** Inserts through `insertDocuments`, recording what each transaction sent. */
async function recordedInsert(store: Store, data: Array<{ id: string; doc: unknown }>) {
  const context = contextOf(store);
  const info = await ensureCollection(context, "bulk");
  const sent: string[] = [];
  const executor: Executor = Object.create(context.executor, {
    transaction: {
      value: <T>(fn: (tx: InternalTx) => Promise<T>) =>
        context.executor.transaction((tx) =>
          fn(Object.create(tx, {
            query: {
              value: (text: string, params?: readonly unknown[]) => {
                sent.push(text.replaceAll(`"${context.schema}"`, `"SCHEMA"`));
                return tx.query(text, params);
              },
            },
            copyIn: {
              value: (table: string, columns: readonly string[], text: string) => {
                sent.push(`copy ${columns.join(", ")}`);
                return tx.copyIn(table, columns, text);
              },
            },
          }))
        ),
    },
  });
  return { inserted: await insertDocuments(executor, info, prepareRows(data)), sent };
}

async function assertAllStored(store: Store, data: Array<{ id: string; doc: Doc }>) {
  const stored = new Map(
    (await contextOf(store).executor.query<{ id: string; doc: Doc }>(
      `select id, doc from "${contextOf(store).schema}".bulk`,
    )).map((r) => [r.id, r.doc]),
  );
  assertEquals(stored.size, data.length);
  for (const row of data) assertEquals(stored.get(row.id), row.doc, `document ${row.doc.i}`);
}

testBoth(
  "bulkInsert below COPY_MIN_ROWS sends one pinned statement per 1,000 rows",
  async (store) => {
    const data = rows(2_500);
    const { inserted, sent } = await recordedInsert(store, data);
    assertEquals(inserted, 2_500);
    assertEquals(sent, [INSERT_SQL, INSERT_SQL, INSERT_SQL]);
    await assertAllStored(store, data);
  },
);

testBoth("a conflict in a later statement of a bulkInsert writes nothing", async (store) => {
  const docs = store.docs<Doc>("bulk");
  const existing = rows(1);
  await docs.bulkInsert(existing);
  const batch = rows(1_500, 1);
  batch[1_200] = existing[0]!;
  const error = await assertRejects(() => docs.bulkInsert(batch), RillflowError);
  assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
  assertEquals(error.retryable, false);
  assert(error.cause instanceof RillflowError, "the driver error is the cause");
  assertEquals(await docs.query().count(), 1, "nothing from the failed batch");
  await assertAllStored(store, existing);
});

testBoth("bulkInsert splits statements by size for large documents", async (store) => {
  const words = "lorem ipsum ".repeat(100_000);
  const data = Array.from({ length: 10 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: { i, text: `${i}${words}` } as Doc,
  }));
  const { inserted, sent } = await recordedInsert(store, data);
  assertEquals(inserted, 10);
  assertEquals(sent.length, 2, "8 million characters per statement at most, then a new one");
  await assertAllStored(store, data);
});

testBoth(
  "bulkInsert from COPY_MIN_ROWS rows uses COPY, all or nothing, and fills duplicated fields",
  async (store) => {
    await store.schema.sync(
      SchemaConfig.singleTenant().addDuplicatedField(
        "bulk",
        new DuplicatedField("email", "email", "text"),
      ),
    );
    const withEmail = (data: Array<{ id: string; doc: Doc }>) =>
      data.map((r) => ({ id: r.id, doc: { ...r.doc, email: `u${r.doc.i}@x.io` } }));
    const big = withEmail(rows(COPY_MIN_ROWS));
    const copied = await recordedInsert(store, big);
    assertEquals(copied.inserted, COPY_MIN_ROWS);
    assertEquals(copied.sent, ['copy "id", "doc"']);
    const small = withEmail(rows(3, COPY_MIN_ROWS));
    assertEquals((await recordedInsert(store, small)).sent, [INSERT_SQL]);
    await assertAllStored(store, [...big, ...small]);

    const { executor, schema } = contextOf(store);
    for (const row of [big[0]!, big[COPY_MIN_ROWS - 1]!, small[2]!]) {
      const [stored] = await executor.query<{ email: string }>(
        `select email from "${schema}".bulk where id = $1`,
        [row.id],
      );
      assertEquals(stored?.email, row.doc.email, "the duplicated column is filled");
    }

    const again = rows(COPY_MIN_ROWS, 2 * COPY_MIN_ROWS);
    again[COPY_MIN_ROWS - 1] = big[5]!;
    const error = await assertRejects(
      () => store.docs<Doc>("bulk").bulkInsert(again),
      RillflowError,
    );
    assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
    assertEquals(await store.docs("bulk").query().count(), COPY_MIN_ROWS + 3);
  },
);
