// The SDK's Client over StdioClientTransport with `warren mcp` as the
// server, as a desktop agent starts it: node stdio.mjs WARREN URL TOKEN.
// Prints a JSON summary on success; warren's stderr goes to ours.
import { exercise } from './flow.mjs';
import { load } from './sdk.mjs';

const [warren, url, token] = process.argv.slice(2);
const { Client } = await load('client/index.js');
const { StdioClientTransport } = await load('client/stdio.js');

const transport = new StdioClientTransport({
  command: warren, args: ['mcp'], env: { WARREN_URL: url, WARREN_TOKEN: token }, stderr: 'inherit',
});
const client = new Client({ name: 'warren-test', version: '1.0.0' });
await client.connect(transport);
const summary = await exercise(client);
summary.pid = transport.pid;
// closing stdin ends `warren mcp`, which ends the MCP session
await client.close();
console.log(JSON.stringify(summary));
