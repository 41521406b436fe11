// A client process for the namespace/tag tests: one JSON request per stdin line,
// `{ id, ns?, method, args }`, answered on stdout with `{ id, result }` or `{ id, error }`. It imports the built
// package, as an application would.
import { createInterface } from "node:readline";

const { createClient } = await import(process.argv[2]);
const client = createClient({ servers: JSON.parse(process.argv[3]), health: { checkInterval: 0 } });
const lines = createInterface({ input: process.stdin });
const encode = (v) =>
  v instanceof Map ? { map: [...v] } : v === undefined ? { undefined: true } : { value: v };
for await (const line of lines) {
  const { id, ns, method, args } = JSON.parse(line);
  try {
    const target = ns ? client.namespace(ns) : client;
    const result = await target[method](...args);
    process.stdout.write(`${JSON.stringify({ id, result: encode(result) })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id, error: String(error?.name ?? error) })}\n`);
  }
}
await client.close();
