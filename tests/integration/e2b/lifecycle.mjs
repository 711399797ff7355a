// The control plane through the SDK: metadata and envs kept and applied,
// getInfo, setTimeout, Sandbox.list (filters, paging), connect, kill,
// and the unsupported calls' errors.
import { e2b, out, attempt, done } from './common.mjs'

const tag = process.argv[2]
const sbx = await e2b.Sandbox.create('base', { timeoutMs: 60_000, metadata: { suite: tag, role: 'first' },
                                               envs: { FROM_CREATE: 'kept' } })
const second = await e2b.Sandbox.create('base', { metadata: { suite: tag, role: 'second' } })
out.ids = [sbx.sandboxId, second.sandboxId]

await attempt('info', async () => {
  const i = await sbx.getInfo()
  return { sandboxId: i.sandboxId, templateId: i.templateId, metadata: i.metadata, state: i.state,
           lifetimeS: Math.round((i.endAt - i.startedAt) / 1000), cpuCount: i.cpuCount, memoryMB: i.memoryMB }
})
await attempt('envs', async () => (await sbx.commands.run('echo $FROM_CREATE')).stdout)

await attempt('setTimeout', async () => {
  await sbx.setTimeout(600_000)
  const i = await sbx.getInfo()
  return Math.round((i.endAt - Date.now()) / 1000)
})

await attempt('list', async () => {
  const p = e2b.Sandbox.list({ query: { metadata: { suite: tag } }, limit: 1 })
  const pages = []
  while (p.hasNext) pages.push((await p.nextItems()).map((s) => ({ id: s.sandboxId, role: s.metadata.role })))
  const first = await e2b.Sandbox.list({ query: { metadata: { suite: tag, role: 'first' } } }).nextItems()
  return { pages, first: first.map((s) => s.sandboxId) }
})

await attempt('connect', async () => {
  const again = await e2b.Sandbox.connect(sbx.sandboxId)
  await sbx.files.write('/workspace/via-first.txt', 'shared')
  return { sameId: again.sandboxId === sbx.sandboxId, read: await again.files.read('/workspace/via-first.txt') }
})

await attempt('connectMissing', async () => e2b.Sandbox.connect('0123456789abcdef0123456789abcdef'))
await attempt('badTemplate', async () => e2b.Sandbox.create('no-such-template'))
await attempt('pause', async () => sbx.betaPause())
await attempt('snapshot', async () => sbx.createSnapshot())

await attempt('kill', async () => {
  const killed = await sbx.kill()
  const again = await e2b.Sandbox.kill(sbx.sandboxId)
  const running = await sbx.isRunning()
  const listed = (await e2b.Sandbox.list({ query: { metadata: { suite: tag } } }).nextItems()).map((s) => s.sandboxId)
  return { killed, again, running, listed }
})
await second.kill()
done()
