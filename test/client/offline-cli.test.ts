import { execFile } from 'node:child_process'
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { processContext } from '../../client/context.ts'
import { buildProgram } from '../../client/main.ts'
import { prebuiltWorkerOf } from '../../node/threads/source-root.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const seedRows = [
  {
    patientId: '9',
    patientName: 'john_cena',
    actorId: '100',
    action: 'update',
    detail: 'bill',
    resource: 'user_bills',
    time: '2023-12-08T13:04:23Z',
    notes: 'User bill was modified',
  },
  {
    patientId: '8',
    patientName: 'akshay_kumar',
    actorId: '14',
    action: 'delete',
    detail: 'prescription',
    resource: 'user_prescriptions',
    time: '2023-12-06T11:40:34Z',
    notes: 'Doctor deleted a previous prescription',
  },
  {
    patientId: '1',
    patientName: 'anish',
    actorId: '12',
    action: 'print',
    detail: 'prescription',
    resource: 'user_prescriptions',
    time: '2023-12-04T19:22:00Z',
    notes: 'Doctor printed the prescription',
  },
]

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    out.push(...(e.isDirectory() ? await filesUnder(p) : [p]))
  }
  return out
}

describe('ehrlog CLI on a stopped node folder', () => {
  const tempDir = useTempDirs()

  async function initNode(name = 'hospital-a', env: Record<string, string> = {}): Promise<string> {
    const dir = join(await tempDir(), name)
    const r = await runCli(['init', '--dir', dir, '--name', name], env)
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    return dir
  }

  it('init creates the identity and refuses to overwrite it', async () => {
    const dir = await initNode()
    const identity = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))
    expect(identity).toMatchObject({ name: 'hospital-a' })
    expect(identity.peerId).toMatch(/^12D3Koo/)
    expect((await stat(join(dir, 'master.key'))).mode & 0o777).toBe(0o600)
    const before = await readFile(join(dir, 'keys.enc'))
    const again = await runCli(['init', '--dir', dir, '--name', 'hospital-a'])
    expect(again.code).toBe(5)
    expect(again.err).toMatch(/^ALREADY_INITIALIZED: /)
    expect(Buffer.compare(before, await readFile(join(dir, 'keys.enc')))).toBe(0)
    expect((await runCli(['init', '--dir', join(dir, 'x'), '--name', 'Bad_Name'])).code).toBe(2)
  })

  it('append, log as the seed table, and verify', async () => {
    const dir = await initNode()
    for (const row of seedRows) {
      const r = await runCli([
        'append',
        '--dir',
        dir,
        '--patient',
        row.patientId,
        '--patient-name',
        row.patientName,
        '--actor',
        row.actorId,
        '--action',
        row.action,
        '--detail',
        row.detail,
        '--resource',
        row.resource,
        '--time',
        row.time,
        '--notes',
        row.notes,
      ])
      expect(r.code).toBe(0)
    }
    const log = await runCli(['log', '--dir', dir])
    expect(log.out.split('\n')[0]).toMatch(
      /^LOG_ID\s+USER_NAME\s+USER_ID\s+AUDITOR_ID\s+ACTION_TYPE\s+TABLE AFFECTED IN EHR\s+TIMESTAMP\s+NOTES\s+ORIGIN$/,
    )
    expect(log.out).toMatch(
      /hospital-a:1\s+john_cena\s+9\s+100\s+UPDATE : bill\s+user_bills\s+2023-12-08 13:04:23\s+User bill was modified/,
    )
    // newest first, as the prototype showed it
    expect(log.out.indexOf('john_cena')).toBeLessThan(log.out.indexOf('anish'))
    const anish = await runCli(['log', '--dir', dir, '--patient', '1', '--json'])
    const lines = anish.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ id: 'hospital-a:3', head: { treeSize: 3 } })
    expect(lines[0].inclusionProof).toHaveLength(1) // RFC 9162: PATH(2, D[3]) = [MTH(D[0:2])]
    expect(Buffer.from(lines[0].bytes, 'base64').toString()).toContain('"patientName":"anish"')
    const verify = await runCli(['verify', '--dir', dir])
    expect(verify.code).toBe(0)
    expect(verify.out).toMatch(/^intact: 3 entries in 1 feed verified/)
  })

  it('bulk append from NDJSON; a bad line names line and field and writes nothing', async () => {
    const dir = await initNode()
    const file = join(dir, '..', 'events.ndjson')
    const many = Array.from({ length: 2500 }, (_, i) =>
      JSON.stringify({ ...seedRows[i % 3], notes: `n${i}` }),
    )
    await writeFile(file, `${many.join('\n')}\n\n`)
    const ok = await runCli(['append', '--dir', dir, '--file', file, '--json'])
    expect(JSON.parse(ok.out)).toEqual({
      appended: 2500,
      first: 'hospital-a:1',
      last: 'hospital-a:2500',
    })
    const bad = [...many.slice(0, 5), JSON.stringify({ ...seedRows[0], action: 'steal' })]
    await writeFile(file, bad.join('\n'))
    const r = await runCli(['append', '--dir', dir, '--file', file])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^EVENT_INVALID: .*events\.ndjson:6: event\.action must be one of/)
    await writeFile(file, '{"patientId": ')
    expect((await runCli(['append', '--dir', dir, '--file', file])).err).toMatch(
      /:1: not valid JSON/,
    )
    expect(
      (await runCli(['append', '--dir', dir, '--file', join(dir, 'nope.ndjson')])).err,
    ).toMatch(/^FILE_INVALID: cannot read/)
    const v = await runCli(['verify', '--dir', dir, '--json'])
    expect(JSON.parse(v.out).entriesChecked).toBe(2500)
  })

  it('bad flags and missing fields give coded errors', async () => {
    const dir = await initNode()
    const missing = await runCli(['append', '--dir', dir, '--patient', '1'])
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/^ARGUMENT_INVALID: missing --actor, --action, --resource/)
    const tooLong = await runCli([
      'append',
      '--dir',
      dir,
      '--patient',
      'p'.repeat(200),
      '--actor',
      'a',
      '--action',
      'read',
      '--resource',
      'r',
    ])
    expect(tooLong.err).toMatch(/^EVENT_INVALID: event\.patientId must be at most 128 characters/)
    expect((await runCli(['log', '--dir', dir, '--limit', 'zero'])).code).toBe(2)
    expect((await runCli(['frobnicate'])).code).toBe(2)
    const absent = (await runCli(['verify', '--dir', join(dir, 'absent')])).err
    expect(absent).toMatch(/^NOT_INITIALIZED/)
    // Every command the message and its hint name exists (`ehrlog node init` did not).
    const program = buildProgram(processContext())
    for (const [, named] of absent.matchAll(/ehrlog ((?:[a-z]+ ?)+)/g)) {
      let command: Command | undefined = program
      for (const word of named!.trim().split(' ')) {
        command = command?.commands.find((c) => c.name() === word)
        if (!command?.commands.length) break // a leaf: the rest are its arguments
      }
      expect(command, `ehrlog ${named}`).toBeDefined()
    }
    expect((await runCli(['verify', '--dir', dir, '--json'])).out).toContain('"entriesChecked": 0')
  })

  it('a corrupt key file or a wrong passphrase is a clear error, and nothing is written', async () => {
    const dir = await initNode()
    await writeFile(join(dir, 'master.key'), 'ehrlog-master-key-v1\nnot-hex\n', { mode: 0o600 })
    const r = await runCli([
      'append',
      '--dir',
      dir,
      '--patient',
      '1',
      '--actor',
      'a',
      '--action',
      'read',
      '--resource',
      'r',
    ])
    expect(r.code).toBe(4)
    expect(r.err).toMatch(/^KEY_FILE_INVALID: /)

    const locked = await initNode('hospital-b', {
      EHRLOG_PASSPHRASE: 'correct horse battery staple',
    })
    const files = await filesUnder(locked)
    const append = [
      'append',
      '--dir',
      locked,
      '--patient',
      '1',
      '--actor',
      'a',
      '--action',
      'read',
      '--resource',
      'r',
    ]
    expect((await runCli(append, { EHRLOG_PASSPHRASE: 'wrong' })).err).toMatch(
      /^PASSPHRASE_WRONG: /,
    )
    expect((await runCli(append)).err).toMatch(/^PASSPHRASE_REQUIRED: /)
    expect(await filesUnder(locked)).toEqual(files) // no store was even created
    expect((await runCli(append, { EHRLOG_PASSPHRASE: 'correct horse battery staple' })).code).toBe(
      0,
    )
  })

  it('no patient id, name or note lands in plaintext anywhere in the node folder', async () => {
    const dir = await initNode()
    const secrets = ['PT-55-SECRET', 'supriya_patil', 'Doctor modified the prescription XYZZY']
    await runCli([
      'append',
      '--dir',
      dir,
      '--patient',
      secrets[0]!,
      '--patient-name',
      secrets[1]!,
      '--actor',
      '12',
      '--action',
      'update',
      '--resource',
      'user_prescriptions',
      '--notes',
      secrets[2]!,
    ])
    for (const file of await filesUnder(dir)) {
      const content = await readFile(file)
      for (const s of secrets)
        expect(content.includes(Buffer.from(s)), `${s} in ${file}`).toBe(false)
    }
  })

  it('bin/ehrlog.js runs as its own process', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'ehrlog.js')
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'])
    expect(stdout).toMatch(/Usage: ehrlog/)
    expect(stdout).toMatch(/append/)
    const failed = await promisify(execFile)(process.execPath, [
      bin,
      'verify',
      '--dir',
      '/nonexistent/ehrlog',
    ]).catch((e) => e)
    expect(failed.code).toBe(5)
    expect(failed.stderr).toMatch(/^NOT_INITIALIZED/)
  })

  it('bin/ehrlog.js runs the prebuilt bundle while it is fresh, the sources otherwise', async () => {
    // A copy of the package layout whose dist/ is built here: node/ and client/ link to the
    // real sources, so the repository's own dist/ is never touched by this test.
    const repo = join(import.meta.dirname, '..', '..')
    const root = await mkdtemp(join(tmpdir(), 'ehrlog-launch-'))
    try {
      for (const dir of ['node', 'client', 'node_modules'])
        await symlink(join(repo, dir), join(root, dir), 'dir')
      await mkdir(join(root, 'bin'))
      await mkdir(join(root, 'scripts'))
      for (const file of await readdir(join(repo, 'bin')))
        await copyFile(join(repo, 'bin', file), join(root, 'bin', file))
      await copyFile(join(repo, 'scripts', 'build.mjs'), join(root, 'scripts', 'build.mjs'))
      const run = (env: Record<string, string>) =>
        promisify(execFile)(process.execPath, [join(root, 'bin', 'ehrlog.js'), '--help'], {
          env: { ...process.env, EHRLOG_LAUNCH_TRACE: '1', ...env },
        })
      const unbuilt = await run({})
      expect(unbuilt.stderr).toBe('ehrlog: running the sources (tsx)\n')
      await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build.mjs')])
      const built = await run({})
      expect(built.stderr).toBe('ehrlog: running dist/ (prebuilt)\n')
      expect(built.stdout).toBe(unbuilt.stdout)
      // Every worker thread the node starts has its script prebuilt where the bundle looks.
      const workerEntries = await workerEntriesIn(join(repo, 'node'))
      expect(workerEntries.length).toBeGreaterThanOrEqual(3)
      for (const entry of workerEntries) {
        const prebuilt = prebuiltWorkerOf(
          pathToFileURL(`${root}/`),
          pathToFileURL(join(root, entry)),
        )
        expect(prebuilt?.href).toMatch(/\/dist\/workers\/node\/.*\.cjs$/)
        expect((await stat(prebuilt!)).size, entry).toBeGreaterThan(1000)
      }
      expect((await run({ EHRLOG_FROM_SOURCE: '1' })).stderr).toMatch(/the sources \(tsx\)/)
      // A source newer than the bundle (an edit not built yet): the sources run.
      await utimes(join(root, 'dist', 'ehrlog.mjs'), new Date(0), new Date(0))
      expect((await run({})).stderr).toMatch(/the sources \(tsx\)/)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

/** The worker entries the node's code starts: `workerSource(sourceUrl('PATH'))`, `new OrderedWorker('PATH'`. */
async function workerEntriesIn(dir: string): Promise<string[]> {
  const found = new Set<string>()
  for (const file of await readdir(dir, { recursive: true })) {
    if (!file.endsWith('.ts')) continue
    const text = await readFile(join(dir, file), 'utf8')
    const calls = /(?:workerSource\(sourceUrl\(|new OrderedWorker\(\s*)'([^']+\.ts)'/g
    for (const m of text.matchAll(calls)) found.add(m[1]!)
  }
  return [...found].sort()
}
