import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, SERVER_URL } from "./_backends.ts";
import { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** Runs the workload with `env`, collecting what reaches a local OTLP/HTTP JSON collector. */
async function traceNames(env: Record<string, string>): Promise<string[]> {
  const names: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (new URL(req.url).pathname === "/v1/traces") {
      const body = await req.json();
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) names.push(span.name);
        }
      }
    } else await req.body?.cancel();
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  const schema = freshSchema();
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "tests/fixtures/otel_workload.ts",
        SERVER_URL ?? "pglite://memory",
        schema,
      ],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_DENO_CONSOLE: "ignore",
        ...env,
      },
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    return names;
  } finally {
    if (SERVER_URL) {
      await using store = await Store.connect(SERVER_URL);
      await contextOf(store).executor.query(`drop schema if exists "${schema}" cascade`);
    }
    await server.shutdown();
  }
}

Deno.test({
  name: "with OTEL_DENO=true, append, document, session and projection spans reach the collector",
  sanitizeResources: false,
  async fn() {
    const names = await traceNames({ OTEL_DENO: "true", OTEL_SERVICE_NAME: "rillflow-test" });
    for (
      const expected of [
        "rillflow.append",
        "rillflow.document_write",
        "rillflow.document_read",
        "rillflow.session_commit",
        "rillflow.projection.batch",
      ]
    ) {
      assert(names.includes(expected), `span ${expected} missing from ${names.join(", ")}`);
    }
  },
});

Deno.test({
  name: "without OTEL_DENO nothing is exported",
  sanitizeResources: false,
  async fn() {
    assertEquals(await traceNames({}), []);
  },
});
