// commands.run (env, cwd, streaming callbacks, a non-zero exit), a
// background command with stdin and kill, commands.list, a pty.
import { e2b, out, attempt, waitFor, done } from './common.mjs'

const sbx = await e2b.Sandbox.create('base')
out.sandboxId = sbx.sandboxId

await attempt('run', async () => {
  const stdout = [], stderr = []
  const r = await sbx.commands.run('echo "$GREETING from $(pwd)"; echo oops >&2; echo second', {
    envs: { GREETING: 'hello' }, cwd: '/tmp',
    onStdout: (d) => stdout.push(d), onStderr: (d) => stderr.push(d),
  })
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, streamed: stdout.join(''), streamedErr: stderr.join('') }
})

await attempt('fails', async () => {
  try {
    await sbx.commands.run('echo partial; exit 3')
    return { thrown: false }
  } catch (err) {
    return { thrown: true, name: err.constructor.name, isExitError: err instanceof e2b.CommandExitError,
             exitCode: err.exitCode, stdout: err.stdout }
  }
})

await attempt('background', async () => {
  const seen = []
  const h = await sbx.commands.run('while read line; do echo "got $line"; done', {
    background: true, stdin: true, onStdout: (d) => seen.push(d),
  })
  await h.sendStdin('one\n')
  await sbx.commands.sendStdin(h.pid, 'two\n')
  const echoed = await waitFor(() => seen.join('').includes('got two'))
  const listed = (await sbx.commands.list()).map((p) => ({ pid: p.pid, cmd: p.cmd, args: p.args }))
  const killed = await h.kill()
  let exit
  try { exit = (await h.wait()).exitCode } catch (err) { exit = { name: err.constructor.name, exitCode: err.exitCode } }
  const after = (await sbx.commands.list()).map((p) => p.pid)
  return { pid: h.pid, echoed, output: seen.join(''), listed, killed, exit, after }
})

await attempt('stdinClose', async () => {
  const h = await sbx.commands.run('cat; echo eof', { background: true, stdin: true })
  await h.sendStdin('data\n')
  await h.closeStdin()
  const r = await h.wait()
  return { exitCode: r.exitCode, stdout: r.stdout }
})

await attempt('pty', async () => {
  const chunks = []
  const dec = new TextDecoder()
  const h = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => chunks.push(dec.decode(d)) })
  await sbx.pty.sendInput(h.pid, new TextEncoder().encode('stty size\n'))
  const first = await waitFor(() => chunks.join('').includes('24 80'))
  await sbx.pty.resize(h.pid, { cols: 100, rows: 30 })
  await sbx.pty.sendInput(h.pid, new TextEncoder().encode('stty size; exit 5\n'))
  const r = await h.wait().catch((err) => ({ exitCode: err.exitCode }))
  return { first, resized: chunks.join('').includes('30 100'), exitCode: r.exitCode }
})

await sbx.kill()
done()
