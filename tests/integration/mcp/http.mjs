// The SDK's Client over StreamableHTTPClientTransport against warrend's
// /mcp: node http.mjs URL TOKEN. Prints a JSON summary on success.
import assert from 'node:assert/strict';
import { exercise } from './flow.mjs';
import { load } from './sdk.mjs';

const [url, token] = process.argv.slice(2);
const { Client } = await load('client/index.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');

const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: 'warren-test', version: '1.0.0' });
await client.connect(transport);
assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
assert.equal(transport.protocolVersion, '2025-11-25');
const summary = await exercise(client);
summary.session = transport.sessionId;

// terminate the session: its own sandbox goes, and the id is dead
await transport.terminateSession();
assert.equal(transport.sessionId, undefined);
const stale = new StreamableHTTPClientTransport(new URL('/mcp', url), {
  sessionId: summary.session, requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const again = new Client({ name: 'warren-test', version: '1.0.0' });
await again.connect(stale); // a known session id: connect sends nothing
await assert.rejects(again.listTools(), /404|Session not found/);
await again.close();
await client.close();
console.log(JSON.stringify(summary));
