/**
 * Document workloads: inserts, bulk inserts and loads, gets and field queries
 * on 50,000 documents, each beside the raw postgres.js floor.
 *
 * The machine is shared, so a side measured alone swings with the load. Every
 * per-operation row therefore also runs an A/B pass, alternating one Rillflow
 * operation and one floor operation, and notes that ratio: both sides see the
 * same load. Bulk rows are interleaved pairs ({@linkcode pairedWorkload}).
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type postgres from "postgres";
import { DuplicatedField, Predicate, SchemaConfig } from "../mod.ts";
import { type BenchContext, type Measured, timed, type Workload } from "./harness.ts";
import { type Op as PairedOp, pairedWorkload } from "./paired.ts";

const N = 2_000;
const CORPUS = 50_000;
const QUERIES = 500;

type Doc = { email: string; age: number; city: string };
const doc = (i: number): Doc => ({ email: `u${i}@x.io`, age: i % 90, city: `c${i % 500}` });
type Op = (i: number) => Promise<unknown>;

function rows(n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: crypto.randomUUID(), doc: doc(i) }));
}

/** The best of a few rounds (both sides get the same treatment). */
async function bestOf(rounds: number, run: () => Promise<Measured>): Promise<Measured> {
  let best: Measured | undefined;
  for (let i = 0; i < rounds; i++) {
    const m = await run();
    if (!best || m.ops / m.ms > best.ops / best.ms) best = m;
  }
  return best!;
}

/** Runs `ops` operations one after another. */
function sequential(n: number, op: Op): Promise<Measured> {
  return timed(n, async () => {
    for (let i = 0; i < n; i++) await op(i);
  });
}

/** Alternates one operation of each side; returns Rillflow's rate with the A/B ratio as a note. */
async function abPass(n: number, ours: Op, floor: Op): Promise<Measured> {
  let oursMs = 0;
  let floorMs = 0;
  for (let i = 0; i < n; i++) {
    let started = performance.now();
    await ours(i);
    oursMs += performance.now() - started;
    started = performance.now();
    await floor(i);
    floorMs += performance.now() - started;
  }
  return {
    ops: n,
    ms: oursMs,
    note: `A/B interleaved: ${(floorMs / oursMs).toFixed(2)}× the floor`,
  };
}

async function rawCopy(raw: postgres.Sql, data: ReturnType<typeof rows>): Promise<void> {
  const text = data.map((r) => `${r.id}\t${JSON.stringify(r.doc)}\n`).join("");
  await raw.begin(async (t) => {
    const writable = await t`copy docs (id, doc) from stdin`.writable();
    await pipeline(Readable.from([text]), writable);
  });
}

const loaded = new WeakSet<BenchContext>();

/** Loads the corpus on both sides, once per context (not timed). */
async function loadCorpus(ctx: BenchContext): Promise<void> {
  if (loaded.has(ctx)) return;
  loaded.add(ctx);
  await ctx.store.docs<Doc>().bulkInsert(rows(CORPUS * ctx.scale));
  await rawCopy(ctx.raw, rows(CORPUS * ctx.scale));
  await vacuum(ctx);
}

/** Steady state: flush the GIN pending lists the bulk loads left, refresh statistics. */
async function vacuum(ctx: BenchContext): Promise<void> {
  await ctx.raw`vacuum analyze docs`;
  await ctx.raw.unsafe(`vacuum analyze "${ctx.store.schema.schemaName}".docs`);
}

const email = (ctx: BenchContext, i: number) => `u${(i * 7919) % (CORPUS * ctx.scale)}@x.io`;

function expectOne(found: readonly unknown[]): void {
  if (found.length !== 1) throw new Error(`expected one match, got ${found.length}`);
}

const byEmail = (ctx: BenchContext): Op => async (i) =>
  expectOne(
    await ctx.store.docs<Doc>().query().filter(Predicate.eq("email", email(ctx, i))).fetchAll(),
  );

const rawByEmailGin = (ctx: BenchContext): Op => async (i) =>
  expectOne(
    await ctx.raw`select doc from docs where doc @> ${
      JSON.stringify({ email: email(ctx, i) })
    }::text::jsonb and deleted_at is null`,
  );

const rawByEmailColumn = (ctx: BenchContext): Op => async (i) =>
  expectOne(
    await ctx.raw`select doc from docs where email = ${email(ctx, i)} and deleted_at is null`,
  );

const prepared = new WeakSet<BenchContext>();

/** Adds the duplicated field on both sides: Rillflow by sync, the floor by hand. */
async function withDuplicatedEmail(ctx: BenchContext): Promise<void> {
  if (prepared.has(ctx)) return;
  prepared.add(ctx);
  await loadCorpus(ctx);
  await ctx.store.schema.sync(
    SchemaConfig.singleTenant().addDuplicatedField(
      "docs",
      new DuplicatedField("email", "email", "text"),
    ),
  );
  await ctx.raw`alter table docs add column email text`;
  await ctx.raw`update docs set email = doc->>'email'`;
  await ctx.raw`create index docs_email_idx on docs (email)`;
  await vacuum(ctx);
}

function insertOps(ctx: BenchContext) {
  const ours = rows(N * ctx.scale);
  const theirs = rows(N * ctx.scale);
  const docs = ctx.store.docs<Doc>();
  return {
    ours: ((i) => docs.put(ours[i]!.id, ours[i]!.doc)) as Op,
    floor: ((i) =>
      ctx.raw`insert into docs (id, doc)
              values (${theirs[i]!.id}, ${JSON.stringify(theirs[i]!.doc)}::text::jsonb)`) as Op,
  };
}

const gets = new WeakMap<BenchContext, { ids: string[]; rawIds: string[] }>();

async function getOps(ctx: BenchContext) {
  if (!gets.has(ctx)) {
    const ours = rows(N * ctx.scale);
    const theirs = rows(N * ctx.scale);
    await ctx.store.docs<Doc>().bulkInsert(ours);
    await rawCopy(ctx.raw, theirs);
    gets.set(ctx, { ids: ours.map((r) => r.id), rawIds: theirs.map((r) => r.id) });
  }
  const { ids, rawIds } = gets.get(ctx)!;
  const docs = ctx.store.docs<Doc>();
  return {
    ours: (async (i) => {
      if (!(await docs.get(ids[i]!))) throw new Error("missing");
    }) as Op,
    floor: (async (i) =>
      expectOne(
        await ctx
          .raw`select doc, version from docs where id = ${rawIds[i]!} and deleted_at is null`,
      )) as Op,
  };
}

/** The raw floors of a bulk write, each batch in a transaction of its own like ours. */
const bulkFloors: Record<
  string,
  (raw: postgres.Sql, batch: ReturnType<typeof rows>) => Promise<unknown>
> = {
  "multi-row INSERT": (raw, batch) =>
    raw.begin((t) =>
      t`insert into docs (id, doc)
        select u.id, u.doc::jsonb from unnest(${batch.map((r) => r.id)}::uuid[],
          ${batch.map((r) => JSON.stringify(r.doc))}::text[]) as u(id, doc)`
    ),
  COPY: rawCopy,
};

/** Fresh batches for ops -1 (the warm-up) to `count - 1`, built before timing. */
function batchesOf(count: number, size: number): (i: number) => ReturnType<typeof rows> {
  const all = Array.from({ length: count + 1 }, () => rows(size));
  return (i) => all[i + 1]!;
}

/**
 * `calls` bulk writes of `size` documents each, ours against the faster of
 * the raw floors: one interleaved run against each floor (each on its own
 * batches), and the row shows the run against the floor that was faster.
 */
function bulkWorkload(name: string, calls: number, size: number): Workload {
  const runs = new WeakMap<BenchContext, Promise<{ ours: Measured; floor: Measured }>>();
  const measure = async (ctx: BenchContext) => {
    const results = [];
    for (const [floorName, floor] of Object.entries(bulkFloors)) {
      const pair = pairedWorkload({
        name,
        unit: "docs",
        target: "",
        ops: calls,
        perOp: size,
        prepare: ({ store, raw, scale }) => {
          const ours = batchesOf(calls * scale, size);
          const theirs = batchesOf(calls * scale, size);
          const docs = store.docs<Doc>();
          return Promise.resolve({
            ours: (async (i) => void await docs.bulkInsert(ours(i))) as PairedOp,
            floor: (async (i) => void await floor(raw, theirs(i))) as PairedOp,
          });
        },
      });
      // Each run starts on empty tables, and on a context of its own: paired runs are cached
      // per context.
      await ctx.raw.unsafe(`truncate docs, "${ctx.store.schema.schemaName}".docs`);
      const own = { ...ctx };
      results.push({ floorName, ours: await pair.rillflow(own), floor: await pair.floor!(own) });
    }
    const rate = (m: Measured) => m.ops / m.ms;
    const best = results.reduce((a, b) => rate(b.floor) > rate(a.floor) ? b : a);
    const floors = results.map((r) =>
      `${r.floorName} ${Math.round(rate(r.floor) * 1000).toLocaleString("en-US")}/s`
    );
    return {
      ours: { ...best.ours, note: `vs ${best.floorName}: ${best.ours.note}` },
      floor: { ...best.floor, note: `faster of ${floors.join(", ")}` },
    };
  };
  const run = (ctx: BenchContext) => {
    let measured = runs.get(ctx);
    if (!measured) runs.set(ctx, measured = measure(ctx));
    return measured;
  };
  return {
    name,
    unit: "docs",
    target: "≥ 0.9× the faster floor, ≥ 25,000 docs/s",
    rillflow: async (ctx) => (await run(ctx)).ours,
    floor: async (ctx) => (await run(ctx)).floor,
  };
}

/** The document workloads. */
export const documentWorkloads: Workload[] = [
  {
    name: "document insert, one by one",
    unit: "docs",
    target: "≥ 0.9×",
    rillflow: async (ctx) => {
      const alone = await bestOf(2, () => sequential(N * ctx.scale, insertOps(ctx).ours));
      const ops = insertOps(ctx);
      return { ...alone, note: (await abPass(N * ctx.scale, ops.ours, ops.floor)).note };
    },
    floor: (ctx) => bestOf(2, () => sequential(N * ctx.scale, insertOps(ctx).floor)),
  },
  bulkWorkload("bulkInsert 10,000 docs in batches of 500", 20, 500),
  bulkWorkload("bulkInsert 10,000 docs in batches of 50", 200, 50),
  bulkWorkload("bulk load 50,000 docs", 3, CORPUS),
  {
    name: "document get by id",
    unit: "reads",
    target: "≥ 0.9×",
    rillflow: async (ctx) => {
      const ops = await getOps(ctx);
      const alone = await bestOf(2, () => sequential(N * ctx.scale, ops.ours));
      return { ...alone, note: (await abPass(N * ctx.scale, ops.ours, ops.floor)).note };
    },
    floor: async (ctx) => {
      const ops = await getOps(ctx);
      return await bestOf(2, () => sequential(N * ctx.scale, ops.floor));
    },
  },
  {
    name: "field query on 50,000 docs, JSONB path (GIN)",
    unit: "queries",
    target: "none (reference)",
    rillflow: async (ctx) => {
      await loadCorpus(ctx);
      const alone = await bestOf(2, () => sequential(QUERIES, byEmail(ctx)));
      return { ...alone, note: (await abPass(QUERIES, byEmail(ctx), rawByEmailGin(ctx))).note };
    },
    floor: async (ctx) => {
      await loadCorpus(ctx);
      return await bestOf(2, () => sequential(QUERIES, rawByEmailGin(ctx)));
    },
  },
  {
    name: "field query on 50,000 docs, duplicated field",
    unit: "queries",
    target: "≥ 0.5× (within 2× of raw indexed); ≥ 10× unindexed JSONB",
    rillflow: async (ctx) => {
      await withDuplicatedEmail(ctx);
      const alone = await bestOf(2, () => sequential(QUERIES, byEmail(ctx)));
      const ab = await abPass(QUERIES, byEmail(ctx), rawByEmailColumn(ctx));
      // The unindexed JSONB path: what the same lookup costs without any index.
      const unindexed = await sequential(20, async (i) =>
        expectOne(
          await ctx.raw`select doc from docs where doc->>'email' = ${
            email(ctx, i)
          } and deleted_at is null`,
        ));
      const speedup = (alone.ops / alone.ms) / (unindexed.ops / unindexed.ms);
      return { ...alone, note: `${ab.note}; ${speedup.toFixed(0)}× the unindexed JSONB path` };
    },
    floor: async (ctx) => {
      await withDuplicatedEmail(ctx);
      return await bestOf(2, () => sequential(QUERIES, rawByEmailColumn(ctx)));
    },
  },
];
