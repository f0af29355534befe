import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { hintFor } from '../../client/exit-codes.ts'
import { plural } from '../../client/format/plural.ts'
import { buildProgram } from '../../client/main.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const tempDir = useTempDirs()

/** A stopped node folder holding `count` events of patient 7. */
async function nodeWith(count: number): Promise<string> {
  const dir = join(await tempDir(), 'a')
  expect((await runCli(['init', '--dir', dir, '--name', 'hospital-a'])).code).toBe(0)
  const file = join(dir, '..', 'events.ndjson')
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      patientId: '7',
      actorId: '12',
      action: 'read',
      resource: 'user_prescriptions',
      time: `2023-12-04T19:${String(i % 60).padStart(2, '0')}:00Z`,
    }),
  )
  await writeFile(file, `${lines.join('\n')}\n`)
  const appended = await runCli(['append', '--dir', dir, '--file', file])
  expect(appended.code, appended.err).toBe(0)
  return dir
}

describe('CLI output', () => {
  it('counts with the right plural', () => {
    expect(plural(1, 'answer')).toBe('1 answer')
    expect(plural(2, 'answer')).toBe('2 answers')
    expect(plural(1, 'entry')).toBe('1 entry')
    expect(plural(20_075, 'entry')).toBe('20,075 entries')
    expect(plural(0, 'problem')).toBe('0 problems')
    expect(plural(1, 'newer entry', 'newer entries')).toBe('1 newer entry')
  })

  it("prints commander's own errors as ARGUMENT_INVALID: message, exit 2", async () => {
    for (const args of [
      ['init', '--name', 'a'],
      ['log', '--dir', 'x', '--limit', 'many'],
      ['network', 'assemble', '--out'],
      ['status', '--bogus'],
    ]) {
      const { code, err } = await runCli(args)
      expect(code, args.join(' ')).toBe(2)
      expect(err, args.join(' ')).toMatch(/^ARGUMENT_INVALID: /)
      expect(err).not.toMatch(/^error: /m)
    }
  })

  it('the STORE_LOCKED hint names commands that exist', () => {
    const hint = hintFor('STORE_LOCKED')!
    const named = [...hint.matchAll(/`ehrlog (\w[\w-]*)/g)].map((m) => m[1])
    expect(named.length).toBeGreaterThanOrEqual(3)
    const commands = buildProgram({ out: () => {}, err: () => {}, env: {} }).commands.map((c) =>
      c.name(),
    )
    for (const name of named) expect(commands).toContain(name)
  })

  it('log says when it stopped at --limit, and verify counts in the singular', async () => {
    const dir = await nodeWith(3)
    const limited = await runCli(['log', '--dir', dir, '--limit', '2'])
    expect(limited.out).toMatch(/^2 of 3 entries shown; --limit to see more$/m)
    const all = await runCli(['log', '--dir', dir])
    expect(all.out).toMatch(/^3 entries$/m)
    expect(all.out).not.toContain('--limit to see more')
    // --json keeps stdout JSON lines; the note goes to stderr.
    const json = await runCli(['log', '--dir', dir, '--json', '--limit', '2'])
    expect(json.out.trim().split('\n')).toHaveLength(2)
    expect(json.err).toContain('2 of 3 entries shown')
    const verify = await runCli(['verify', '--dir', dir])
    expect(verify.out).toMatch(/^intact: 3 entries in 1 feed verified/)
  })

  it('takes --format json wherever --json works, and --json where --format does', async () => {
    const dir = await nodeWith(1)
    const viaJson = await runCli(['status', '--dir', dir, '--json'])
    const viaFormat = await runCli(['status', '--dir', dir, '--format', 'json'])
    expect(viaFormat.code).toBe(0)
    expect(JSON.parse(viaFormat.out)).toEqual(JSON.parse(viaJson.out))
    const verify = await runCli(['verify', '--dir', dir, '--format', 'json'])
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, entriesChecked: 1 })
    const log = await runCli(['log', '--dir', dir, '--format', 'json'])
    expect(JSON.parse(log.out.trim())).toMatchObject({ id: 'hospital-a:1' })
    // verify-bundle has --format table|json|…; --json picks json there.
    const help = await runCli(['verify-bundle', '--help'])
    expect(help.out).toContain('--json')
  })
})
