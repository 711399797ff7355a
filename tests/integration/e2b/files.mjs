// files: write/read text and binary, list, exists, makeDir, rename,
// remove, watchDir; two sandboxes do not see each other's files.
import { e2b, out, attempt, waitFor, done } from './common.mjs'

const [a, b] = await Promise.all([e2b.Sandbox.create('base'), e2b.Sandbox.create('base')])
const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)

await attempt('text', async () => {
  const info = await a.files.write('/workspace/dir/hello.txt', 'hello\nworld\n')
  return { info: { name: info.name, path: info.path, type: info.type }, back: await a.files.read('/workspace/dir/hello.txt') }
})

await attempt('binary', async () => {
  await a.files.write('bin.dat', bytes.buffer)  // relative: the user's home
  const back = await a.files.read('bin.dat', { format: 'bytes' })
  const where = (await a.commands.run('cd ~ && pwd && wc -c < bin.dat')).stdout
  return { same: back.length === 256 && back.every((v, i) => v === i), where }
})

await attempt('tmp', async () => {
  await a.files.write('/tmp/elsewhere.txt', 'not only /workspace')
  return (await a.commands.run('cat /tmp/elsewhere.txt')).stdout
})

await attempt('list', async () => {
  await a.files.makeDir('/workspace/dir/sub')
  const entries = await a.files.list('/workspace/dir')
  const deep = await a.files.list('/workspace', { depth: 2 })
  return { entries: entries.map((e) => ({ name: e.name, type: e.type, path: e.path, size: e.size })).sort((x, y) => x.name.localeCompare(y.name)),
           deep: deep.map((e) => e.path).sort(),
           hasTimes: entries.every((e) => e.modifiedTime instanceof Date && !isNaN(e.modifiedTime)) }
})

await attempt('exists', async () => ({
  file: await a.files.exists('/workspace/dir/hello.txt'), missing: await a.files.exists('/workspace/nope'),
  dirAgain: await a.files.makeDir('/workspace/dir/sub'),
}))

await attempt('rename', async () => {
  const info = await a.files.rename('/workspace/dir/hello.txt', '/workspace/dir/renamed.txt')
  return { path: info.path, old: await a.files.exists('/workspace/dir/hello.txt'), text: await a.files.read('/workspace/dir/renamed.txt') }
})

await attempt('remove', async () => {
  await a.files.remove('/workspace/dir/renamed.txt')
  await a.files.remove('/workspace/dir/sub')
  return { file: await a.files.exists('/workspace/dir/renamed.txt'), dir: await a.files.exists('/workspace/dir/sub') }
})

await attempt('readMissing', async () => a.files.read('/workspace/nope.txt'))

await attempt('watch', async () => {
  const events = []
  await a.files.makeDir('/workspace/watched')
  const w = await a.files.watchDir('/workspace/watched', (ev) => events.push({ name: ev.name, type: ev.type }))
  // the watch sees what changed between its looks: one change at a time
  await a.files.write('/workspace/watched/new.txt', 'x')
  const created = await waitFor(() => events.some((e) => e.name === 'new.txt'))
  await a.commands.run('rm /workspace/watched/new.txt')
  const removed = await waitFor(() => events.some((e) => e.type === 'remove'))
  await w.stop()
  return { created, removed, events }
})

await attempt('isolation', async () => {
  await a.files.write('/workspace/secret.txt', 'a only')
  return { seenByB: await b.files.exists('/workspace/secret.txt'),
           listedByB: (await b.files.list('/workspace')).map((e) => e.name) }
})

await Promise.all([a.kill(), b.kill()])
done()
