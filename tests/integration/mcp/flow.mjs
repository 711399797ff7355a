// What an agent does with warren's MCP tools, through the SDK's Client:
// the same steps over every transport. Each tool that declares an
// outputSchema is checked by the SDK itself (callTool validates
// structuredContent against it); the asserts check what the values mean.
import assert from 'node:assert/strict';

export const TOOLS = ['list_dir', 'make_dir', 'read_file', 'remove', 'run_code', 'run_command', 'sandbox_create',
  'sandbox_kill', 'sandbox_list', 'sandbox_set_timeout', 'write_file'];

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, `${name}: ${JSON.stringify(r.content)}`);
  assert.equal(r.content[0].type, 'text');
  return r;
}

export async function exercise(client) {
  const summary = {};
  assert.equal(client.getServerVersion().name, 'warrend');
  assert.ok(client.getServerCapabilities().tools, 'the server offers tools');

  // list the tools: every one with both schemas
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.equal(t.outputSchema.type, 'object', t.name);
  }
  assert.equal(tools.find((t) => t.name === 'sandbox_kill').annotations.destructiveHint, true);

  // create a sandbox, and write, run, read, list in it
  const created = (await call(client, 'sandbox_create', { timeout_s: 600, env: { GREETING: 'hello' } })).structuredContent;
  assert.match(created.sandbox_id, /^[0-9a-f]{32}$/);
  assert.ok(Date.parse(created.expires_at) > Date.now(), created.expires_at);
  const id = created.sandbox_id;
  summary.created = id;
  const written = await call(client, 'write_file', { sandbox_id: id, path: 'src/hello.sh', content: 'echo "$GREETING from $(pwd)"\n' });
  assert.deepEqual(written.structuredContent, { path: '/workspace/src/hello.sh', size: 29 });
  const ran = await call(client, 'run_command', { sandbox_id: id, command: 'sh src/hello.sh; echo oops >&2; exit 3' });
  assert.equal(ran.structuredContent.exit_code, 3);
  assert.equal(ran.structuredContent.stdout, 'hello from /workspace\n');
  assert.equal(ran.structuredContent.stderr, 'oops\n');
  assert.match(ran.content[0].text, /hello from \/workspace/);
  const read = await call(client, 'read_file', { sandbox_id: id, path: '/workspace/src/hello.sh' });
  assert.equal(read.structuredContent.content, 'echo "$GREETING from $(pwd)"\n');
  assert.equal(read.structuredContent.encoding, 'utf8');
  await call(client, 'make_dir', { sandbox_id: id, path: 'out/deep' });
  const listed = await call(client, 'list_dir', { sandbox_id: id });
  assert.deepEqual(listed.structuredContent.entries.map((e) => [e.name, e.type]), [['out', 'directory'], ['src', 'directory']]);

  // run_code: a notebook-style result, and an exception as error
  const code = await call(client, 'run_code', { sandbox_id: id, code: 'import os\nprint(os.getcwd())\n6 * 7' });
  assert.equal(code.structuredContent.stdout, '/workspace\n');
  assert.equal(code.structuredContent.result, '42');
  const js = await call(client, 'run_code', { sandbox_id: id, language: 'javascript', code: '[1, 2, 3].map((x) => x * 2)' });
  assert.equal(js.structuredContent.result, '[ 2, 4, 6 ]');
  const boom = await call(client, 'run_code', { sandbox_id: id, code: '1 / 0' });
  assert.equal(boom.structuredContent.error, 'ZeroDivisionError: division by zero');
  assert.match(boom.structuredContent.stderr, /Traceback/);

  // a tool error: a result with isError that the model can read
  const missing = await client.callTool({ name: 'read_file', arguments: { sandbox_id: id, path: 'nope.txt' } });
  assert.equal(missing.isError, true);
  assert.match(missing.content[0].text, /nope\.txt: No such file or directory/);

  // the session's own sandbox: used without sandbox_id, listed as own
  const own = await call(client, 'run_command', { command: 'echo own > mine.txt && cat mine.txt' });
  assert.equal(own.structuredContent.stdout, 'own\n');
  const list = (await call(client, 'sandbox_list', {})).structuredContent.sandboxes;
  assert.equal(list.length, 2, JSON.stringify(list));
  const ownEntry = list.find((s) => s.own);
  assert.ok(ownEntry && ownEntry.sandbox_id !== id, JSON.stringify(list));
  summary.own = ownEntry.sandbox_id;

  // kill the created one
  const killed = await call(client, 'sandbox_kill', { sandbox_id: id });
  assert.deepEqual(killed.structuredContent, { sandbox_id: id, killed: true });
  const after = (await call(client, 'sandbox_list', {})).structuredContent.sandboxes;
  assert.deepEqual(after.map((s) => s.sandbox_id), [summary.own]);
  const gone = await client.callTool({ name: 'run_command', arguments: { sandbox_id: id, command: 'true' } });
  assert.equal(gone.isError, true);
  return summary;
}
