// Loads E2B's SDKs from $E2B_SDK_DIR (installed by test_e2b.py) and
// gives each script a way to report: every check's observations go into
// one JSON object printed last, which the Python test asserts on.
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.join(process.env.E2B_SDK_DIR, 'node_modules', 'x.js'))
export const e2b = require('e2b')
export const ci = () => require('@e2b/code-interpreter')

export const out = {}

// Runs fn; its rejection is recorded as {error: name, message} under key.
export async function attempt(key, fn) {
  try {
    out[key] = await fn()
  } catch (err) {
    out[key] = { error: err?.constructor?.name ?? String(err), message: String(err?.message ?? err) }
  }
}

export async function waitFor(pred, ms = 20000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await pred()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return false
}

export function done() {
  console.log(JSON.stringify(out))
  process.exit(0)
}
