// Drives /mcp with the official TypeScript SDK over streamable HTTP, as a viewer:
// tools/list (the SDK validates every tool definition and compiles every output schema),
// a call of each read tool (the SDK validates structured results against their output
// schema), a bad argument (a tool error), a write tool (refused), resources and prompts.
// Run by services/orchestrator/tests/it/mcp_interop.rs; inputs come from the environment.
// Prints one JSON line of findings; any failure throws (exit code 1).
import { pathToFileURL } from "node:url";
import path from "node:path";

const sdk = (p) =>
  import(pathToFileURL(path.join(process.env.MCP_NODE_MODULES, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const calls = JSON.parse(env("MCP_READ_CALLS"));
const transport = new StreamableHTTPClientTransport(new URL(env("MCP_URL")), {
  requestInit: { headers: { Authorization: `Bearer ${env("MCP_TOKEN")}` } },
});
const client = new Client({ name: "ts-sdk-interop", version: "1.0.0" });
await client.connect(transport);
const out = { protocol: transport.protocolVersion, tools: [], results: {} };

const { tools } = await client.listTools();
out.tools = tools.map((t) => t.name).sort();
out.list_bytes = JSON.stringify(tools).length;
for (const t of tools) {
  if (!t.annotations || t.annotations.readOnlyHint === undefined) throw new Error(`${t.name} has no annotations`);
}

for (const [name, args] of Object.entries(calls)) {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) {
    out.results[name] = { error: r.content.map((c) => c.text).join("\n") };
  } else {
    if (!r.structuredContent) throw new Error(`${name}: no structured content`);
    out.results[name] = { ok: true };
  }
}

const bad = await client.callTool({ name: "get_incident", arguments: { incident_id: "not-a-number" } });
if (!bad.isError) throw new Error("a bad argument was not a tool error");
out.bad_argument = bad.content.map((c) => c.text).join("\n");

const write = await client.callTool({ name: "acknowledge_incident", arguments: { incident_id: calls.get_incident.incident_id } });
if (!write.isError) throw new Error("a viewer's write call was not refused");
out.write_refused = write.content.map((c) => c.text).join("\n");

out.resources = (await client.listResources()).resources.length;
out.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
await client.close();
console.log(JSON.stringify(out));
