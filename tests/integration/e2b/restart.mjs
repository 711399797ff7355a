// A sandbox through a restart of warrend: `before` creates it (metadata,
// a file, a background command that keeps printing and counting into a
// file) and prints what it made; the test kills warrend -9 and starts the
// next one on the same state; `after ID PID` connects again with the same
// key and checks that it is all still there, reattaches to the command,
// then ends the command and the sandbox.
import { e2b, out, attempt, done, waitFor } from './common.mjs'

const [phase, id, pid] = process.argv.slice(2)

if (phase === 'before') {
  const sbx = await e2b.Sandbox.create('base', { timeoutMs: 600_000, metadata: { kept: 'yes' } })
  await sbx.files.write('/workspace/note.txt', 'written before the restart')
  const h = await sbx.commands.run('i=0; while :; do i=$((i+1)); echo $i > /workspace/count; echo tick $i; sleep 0.2; done',
                                   { background: true })
  await waitFor(async () => Number(await sbx.files.read('/workspace/count').catch(() => '0')) >= 2)
  out.id = sbx.sandboxId
  out.pid = h.pid
  done()
}

const sbx = await e2b.Sandbox.connect(id)
await attempt('info', async () => {
  const i = await sbx.getInfo()
  return { sandboxId: i.sandboxId, templateId: i.templateId, metadata: i.metadata }
})
await attempt('listed', async () => (await e2b.Sandbox.list().nextItems()).map((s) => s.sandboxId))
await attempt('file', async () => sbx.files.read('/workspace/note.txt'))
await attempt('running', async () => (await sbx.commands.list()).map((p) => p.pid))
await attempt('counting', async () => {
  const first = Number(await sbx.files.read('/workspace/count'))
  return waitFor(async () => Number(await sbx.files.read('/workspace/count')) > first)
})
await attempt('reattached', async () => {
  const seen = []
  const h = await sbx.commands.connect(Number(pid), { onStdout: (d) => seen.push(d) })
  const ticked = await waitFor(() => /tick \d+/.test(seen.join('')))
  const killed = await h.kill()
  return { ticked, killed }
})
await attempt('killed', async () => sbx.kill())
done()
