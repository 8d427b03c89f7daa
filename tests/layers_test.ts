/**
 * The layering of src/ (docs/internals/architecture.md): every import points
 * down the table below, or stays inside its own folder. The graph is Deno's
 * own (`deno info --json` from mod.ts and cli.ts), type-only imports
 * included. A new edge that points up or sideways fails with the edge
 * printed; the known edges still to remove are listed with why, and one that
 * is gone must leave the list, so the list only shrinks.
 */
import { assertEquals } from "./_assert.ts";
import { ROOT } from "./_cli.ts";

/**
 * From the bottom up: a layer may import the ones before it. The parts of a
 * layer marked `independent` may not import each other.
 */
export const LAYERS: ReadonlyArray<
  { layer: string; parts: readonly string[]; independent?: boolean }
> = [
  { layer: "base", parts: ["src/errors.ts", "src/ids.ts"] },
  { layer: "telemetry", parts: ["src/telemetry/"] },
  { layer: "db", parts: ["src/db/"] },
  { layer: "context", parts: ["src/_context.ts"] },
  { layer: "schema", parts: ["src/schema/"] },
  { layer: "query", parts: ["src/query/"] },
  { layer: "documents, events", parts: ["src/documents/", "src/events/"], independent: true },
  { layer: "session", parts: ["src/session/"] },
  { layer: "processing", parts: ["src/processing/"] },
  {
    layer: "projections, subscriptions, tenancy",
    parts: ["src/projections/", "src/subscriptions/", "src/tenancy/"],
    independent: true,
  },
  { layer: "observability", parts: ["src/observability/"] },
  {
    layer: "composition",
    parts: [
      "src/store.ts",
      "src/store_options.ts",
      "src/config.ts",
      "src/tenant_runner.ts",
      "mod.ts",
    ],
  },
  { layer: "cli", parts: ["src/cli/", "cli.ts"] },
];

/** Edges that still point the wrong way, each with what removes it (none today). */
const KNOWN: Readonly<Record<string, string>> = {};

interface Module {
  specifier: string;
  dependencies?: Array<{ code?: { specifier?: string }; type?: { specifier?: string } }>;
}

function place(path: string): { index: number; part: string } | null {
  for (const [index, { parts }] of LAYERS.entries()) {
    const part = parts.find((p) => p.endsWith("/") ? path.startsWith(p) : path === p);
    if (part) return { index, part };
  }
  return null;
}

async function graph(): Promise<Array<[string, string]>> {
  const edges = new Set<string>();
  for (const entry of ["mod.ts", "cli.ts"]) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
    const { modules } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: Module[];
    };
    const root = new URL(`file://${ROOT}`).href.replace(/\/?$/, "/");
    const local = (specifier?: string) =>
      specifier?.startsWith(root) ? specifier.slice(root.length) : null;
    for (const module of modules) {
      const from = local(module.specifier);
      if (!from) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const to of [local(dependency.code?.specifier), local(dependency.type?.specifier)]) {
          if (to) edges.add(`${from} -> ${to}`);
        }
      }
    }
  }
  return [...edges].sort().map((edge) => edge.split(" -> ") as [string, string]);
}

/** The edges that point up, or sideways into another folder of the same layer. */
export async function wrongEdges(): Promise<string[]> {
  const wrong: string[] = [];
  for (const [from, to] of await graph()) {
    const a = place(from);
    const b = place(to);
    if (!a || !b || a.part === b.part) continue;
    if (b.index > a.index || (b.index === a.index && LAYERS[a.index]!.independent)) {
      wrong.push(`${from} -> ${to}  (${LAYERS[a.index]!.layer} -> ${LAYERS[b.index]!.layer})`);
    }
  }
  return wrong;
}

Deno.test("every import points down the layer table or stays in its folder", async () => {
  const wrong = await wrongEdges();
  const edge = (line: string) => line.split("  (")[0]!;
  const unknown = wrong.filter((line) => !(edge(line) in KNOWN));
  const gone = Object.keys(KNOWN).filter((known) => !wrong.some((line) => edge(line) === known));
  assertEquals(unknown, [], `imports that point up or sideways:\n${unknown.join("\n")}`);
  assertEquals(gone, [], `known edges that are gone: remove them from KNOWN\n${gone.join("\n")}`);
});

Deno.test("every file of src/ has a layer", async () => {
  const unplaced: string[] = [];
  const root = ROOT.replace(/\/?$/, "/");
  for await (const path of walk(`${root}src`)) {
    const relative = path.slice(root.length);
    if (!relative.endsWith("_test.ts") && place(relative) === null) unplaced.push(relative);
  }
  assertEquals(unplaced, [], "add these to LAYERS (and docs/internals/architecture.md)");
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}
