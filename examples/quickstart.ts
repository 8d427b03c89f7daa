/**
 * Quickstart: store a document, append events to a stream and read them back.
 *
 * Runs on the embedded database in `.rillflow/quickstart` (no server needed),
 * or on PostgreSQL when DATABASE_URL is set:
 *
 *   deno task quickstart
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno task quickstart
 *
 * Run it twice: the second run sees the first run's data.
 */
import { event, Expected, Store } from "../mod.ts";

interface Customer {
  name: string;
  email: string;
  visits: number;
}

const url = Deno.env.get("DATABASE_URL") ?? "pglite:.rillflow/quickstart";
// Servers are migrated explicitly in production (`rillflow schema-sync`); the quickstart asks for it.
await using store = await Store.connect(url, { autoMigrate: true });
console.log(`Connected to ${store.url}`);

// Fixed ids so that every run works on the same document and stream.
const customerId = "0b6f4b7e-4c1a-4c7e-9a57-6f3d2b1c0a01";
const customers = store.docs<Customer>("docs");

const existing = await customers.get(customerId);
const visits = (existing?.doc.visits ?? 0) + 1;
const version = await customers.put(
  customerId,
  { name: "Ada Lovelace", email: "ada@example.com", visits },
  existing?.version ?? 0, // optimistic: fails if someone else wrote in between
);
console.log(
  "Stored document:",
  JSON.stringify((await customers.get(customerId))?.doc),
  `(version ${version})`,
);

const result = await store.events.append(customerId, Expected.any, [
  event("CustomerVisited", { visit: visits, at: new Date().toISOString() }),
]);
console.log(
  `Appended event at stream version ${result.streamVersion}, global position ${
    result.globalSeqs[0]
  }`,
);

console.log("Events in the stream:");
for (const envelope of await store.events.readStream(customerId)) {
  console.log(`  #${envelope.streamSeq} ${envelope.type} ${JSON.stringify(envelope.data)}`);
}
