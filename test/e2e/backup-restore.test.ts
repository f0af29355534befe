import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Incident } from '../../node/alerts/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login, register } from '../query/sessions.ts'

describe('ehrlog backup and restore', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it("a running node's backup, restored, catches up from its members and appends with no alert", async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root)
    const incidents: Incident[] = []
    const opts = { onIncident: (i: Incident) => incidents.push(i) }
    nodes = await startNodes(dirs, opts)
    const c = nodes[2]!
    await register(c.auth, 'admin@hospital-c', 'admin')
    const { token, claims } = login(c.auth, 'admin@hospital-c')
    await c.ingest.submit([makeEvent(1), makeEvent(2)])
    const atBackup = c.store.size('hospital-c')

    // `ehrlog backup` through the running node, with the admin's saved session.
    const configDir = join(root, 'cli-config')
    await mkdir(configDir, { mode: 0o700 })
    const session = {
      v: 1,
      node: c.httpUrl,
      username: 'admin@hospital-c',
      token,
      role: 'admin',
      expiresMs: claims.exp,
    }
    await writeFile(join(configDir, 'session.json'), JSON.stringify(session), { mode: 0o600 })
    const file = join(root, 'c.backup')
    const env = { EHRLOG_CONFIG_DIR: configDir }
    const backup = await runCli(['backup', '--dir', dirs[2]!, '--out', file], env)
    expect(backup.err).toBe('')
    expect(backup.code).toBe(0)
    expect((await readFile(file)).includes('Patient Name'), 'no plaintext patient data').toBe(false)
    // Without an admin session the node refuses, and writes no file.
    const refused = await runCli(['backup', '--dir', dirs[2]!, '--out', `${file}.2`], {
      EHRLOG_CONFIG_DIR: join(root, 'nobody'),
    })
    expect(refused.code).not.toBe(0)
    expect(refused.err).toMatch(/UNAUTHORIZED/)

    // Life goes on after the backup, then the disk is lost: restore while everything is down.
    await c.ingest.submit([makeEvent(3), makeEvent(4), makeEvent(5)])
    const lost = c.store.size('hospital-c')
    await waitFor('the others hold it', () =>
      nodes.every((n) => n.store.size('hospital-c') === lost),
    )
    await Promise.all(nodes.map((n) => n.stop()))
    const noForce = await runCli(['restore', '--in', file, '--dir', dirs[2]!])
    expect(noForce.err).toMatch(/ARGUMENT_INVALID: .*exists: give --force/)
    const restore = await runCli(['restore', '--in', file, '--dir', dirs[2]!, '--force'])
    expect(restore.err).toBe('')
    expect(restore.code).toBe(0)

    // Alone, the restored node signs nothing: the event is pending.
    nodes = await startNodes([dirs[2]!], { ...opts, fenceWaitMs: 200 })
    expect(nodes[0]!.store.size('hospital-c')).toBe(atBackup)
    const pending = await nodes[0]!.ingest.submit([makeEvent(6)])
    expect(pending.pendingIds).toHaveLength(1)
    expect(nodes[0]!.store.size('hospital-c')).toBe(atBackup)

    // The members come back: it pulls back what it lost, then appends the pending event.
    nodes.push(...(await startNodes(dirs.slice(0, 2), opts)))
    await waitFor(
      'all three hold every entry of hospital-c',
      () => nodes.every((n) => n.store.size('hospital-c') === lost + 1),
      30_000,
    )
    const entry = await nodes[0]!.store.getEntry('hospital-c', lost + 1)
    expect(entry?.entry.body).toMatchObject({ notes: 'note number 6' })
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    for (const dir of dirs) {
      const verify = await runCli(['verify', '--dir', dir])
      expect(verify.code, `verify ${dir}: ${verify.out}${verify.err}`).toBe(0)
    }
    expect(incidents).toEqual([])
  }, 120_000)

  it('refuses a damaged backup file and writes nothing', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 1)
    nodes = await startNodes(dirs)
    await nodes[0]!.ingest.submit([makeEvent(1)])
    await nodes[0]!.stop()
    nodes = []
    const file = join(root, 'a.backup')
    const offline = await runCli(['backup', '--dir', dirs[0]!, '--out', file])
    expect(offline.err).toBe('')
    const bytes = await readFile(file)
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 1
    await writeFile(file, bytes)
    const target = join(root, 'fresh')
    await mkdir(target)
    await writeFile(join(target, 'config.json'), '{}')
    const r = await runCli(['restore', '--in', file, '--dir', target])
    expect(r.err).toMatch(/FILE_INVALID: not a usable ehrlog backup: its checksum does not match/)
    await expect(readFile(join(target, 'db', 'CURRENT'))).rejects.toThrow()
  })

  it('--with-secrets carries the keys, encrypted: a whole node folder comes back from the file', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root, 1)
    nodes = await startNodes(dirs)
    await nodes[0]!.ingest.submit([makeEvent(1), makeEvent(2)])
    await nodes[0]!.stop()
    nodes = []
    const file = join(root, 'a.backup')
    const env = { EHRLOG_BACKUP_PASSPHRASE: 'correct horse battery' }
    const noPass = await runCli(['backup', '--dir', dirs[0]!, '--out', file, '--with-secrets'])
    expect(noPass.err).toMatch(/PASSPHRASE_REQUIRED: .*EHRLOG_BACKUP_PASSPHRASE/)
    const taken = await runCli(['backup', '--dir', dirs[0]!, '--out', file, '--with-secrets'], env)
    expect(taken.err).toBe('')
    const bytes = await readFile(file)
    const masterKey = await readFile(join(dirs[0]!, 'master.key'))
    expect(bytes.includes(masterKey), 'the master key is encrypted').toBe(false)

    const fresh = join(root, 'rebuilt', 'hospital-a')
    const wrong = await runCli(['restore', '--in', file, '--dir', fresh, '--with-secrets'], {
      EHRLOG_BACKUP_PASSPHRASE: 'wrong horse battery',
    })
    expect(wrong.err).toMatch(/PASSPHRASE_WRONG/)
    await expect(readFile(join(fresh, 'config.json'))).rejects.toThrow()
    const restored = await runCli(['restore', '--in', file, '--dir', fresh, '--with-secrets'], env)
    expect(restored.err).toBe('')
    nodes = await startNodes([fresh])
    expect(nodes[0]!.store.size('hospital-a')).toBe(2)
  })

  it("the issue's reproduction: hospital-c's db deleted, started alone, then the others", async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root)
    const incidents: Incident[] = []
    const opts = { onIncident: (i: Incident) => incidents.push(i), fenceWaitMs: 200 }
    nodes = await startNodes(dirs, opts)
    await nodes[2]!.ingest.submit([makeEvent(1)])
    await waitFor('replicated', () => nodes.every((n) => n.store.size('hospital-c') === 1))
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(join(dirs[2]!, 'db'), { recursive: true, force: true })

    nodes = await startNodes([dirs[2]!], opts)
    const c = nodes[0]!
    const pending = await c.ingest.submit([makeEvent(2)])
    expect(pending.pendingIds).toHaveLength(1)
    expect(c.store.size('hospital-c')).toBe(0) // no second hospital-c:1
    nodes.push(...(await startNodes(dirs.slice(0, 2), opts)))
    await waitFor(
      'hospital-c:1 pulled back, the pending event appended as hospital-c:2 everywhere',
      () => nodes.every((n) => n.store.size('hospital-c') === 2),
      30_000,
    )
    expect((await c.store.getEntry('hospital-c', 2))?.entry.body).toMatchObject({
      notes: 'note number 2',
    })
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    for (const dir of dirs) expect((await runCli(['verify', '--dir', dir])).code).toBe(0)
    expect(incidents).toEqual([])
  }, 60_000)
})
