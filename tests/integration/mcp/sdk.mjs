// The official MCP TypeScript SDK, from the directory the test installed it
// into ($MCP_SDK_DIR): imported by path, since ES modules ignore NODE_PATH.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function load(module) {
  const dir = process.env.MCP_SDK_DIR;
  if (!dir) throw new Error('MCP_SDK_DIR is not set (the pytest test sets it)');
  const file = path.join(dir, 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', module);
  return import(pathToFileURL(file).href);
}
