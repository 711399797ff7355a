// @e2b/code-interpreter: runCode keeps state between calls, streams
// output, reports errors; contexts (create, list, restart, remove);
// JavaScript contexts (node in the image, or the error saying it is not).
// argv[2]: the template (default code-interpreter-v1).
import { ci, out, attempt, done } from './common.mjs'

const { Sandbox } = ci()
const sbx = await (process.argv[2] ? Sandbox.create(process.argv[2]) : Sandbox.create())

await attempt('state', async () => {
  const first = await sbx.runCode('x = 41\nprint("side", x)\nx + 1')
  const second = await sbx.runCode('x * 2')
  return { text: first.text, stdout: first.logs.stdout, second: second.text, error: first.error ?? null }
})

await attempt('error', async () => {
  const r = await sbx.runCode('print("before")\n1 / 0')
  return { name: r.error?.name, value: r.error?.value, traceback: r.error?.traceback, stdout: r.logs.stdout }
})

await attempt('streaming', async () => {
  const seen = []
  const r = await sbx.runCode('import sys\nprint("out")\nprint("err", file=sys.stderr)',
                              { onStdout: (m) => seen.push(['out', m.line]), onStderr: (m) => seen.push(['err', m.line]) })
  return { seen, stderr: r.logs.stderr }
})

await attempt('envs', async () => (await sbx.runCode('import os\nos.environ.get("PER_RUN")', { envs: { PER_RUN: 'yes' } })).text)

await attempt('contexts', async () => {
  const ctx = await sbx.createCodeContext({ cwd: '/tmp' })
  await sbx.runCode('y = "in ctx"', { context: ctx })
  const inCtx = (await sbx.runCode('import os\n(y, os.getcwd())', { context: ctx })).text
  const notDefault = (await sbx.runCode('y')).error?.name
  const listed = (await sbx.listCodeContexts()).map((c) => c.id).includes(ctx.id)
  await sbx.restartCodeContext(ctx)
  const afterRestart = (await sbx.runCode('y', { context: ctx })).error?.name
  await sbx.removeCodeContext(ctx)
  const gone = !(await sbx.listCodeContexts()).map((c) => c.id).includes(ctx.id)
  return { language: ctx.language, inCtx, notDefault, listed, afterRestart, gone }
})

await attempt('js', async () => {
  const ctx = await sbx.createCodeContext({ language: 'js' })
  await sbx.runCode('let n = 20', { context: ctx })
  const r = await sbx.runCode('console.log("js out"); n + 22', { context: ctx })
  return { text: r.text, stdout: r.logs.stdout, error: r.error ? { name: r.error.name, value: r.error.value } : null }
})

await sbx.kill()
done()
