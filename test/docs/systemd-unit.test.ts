import { execFile } from 'node:child_process'
import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { noteSkipReason } from '../helpers/skip-reason.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const run = promisify(execFile)
const tempDir = useTempDirs()
const GUIDE = join(import.meta.dirname, '..', '..', 'docs', 'operations.md')

/** The ```ini block after the `systemd-unit` marker of docs/operations.md. */
async function unitFromGuide(): Promise<string> {
  const text = await readFile(GUIDE, 'utf8')
  const match = /<!-- systemd-unit[^>]*-->\n```ini\n([\s\S]*?)```/.exec(text)
  if (!match) throw new Error('docs/operations.md has no systemd-unit block')
  return match[1]!
}

const systemdAnalyze = await access('/usr/bin/systemd-analyze').then(
  () => '/usr/bin/systemd-analyze',
  () => undefined,
)

/** What systemd-analyze verify says about `unit`, minus remarks about this machine. */
async function problemsOf(unit: string): Promise<string[]> {
  const file = join(await tempDir(), 'ehrlog.service')
  await writeFile(file, unit)
  const out = await run(systemdAnalyze!, ['verify', '--man=no', file]).then(
    ({ stdout, stderr }) => stdout + stderr,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  )
  return out
    .split('\n')
    .filter((l) => l.includes('ehrlog.service'))
    .filter(
      (l) => !/Failed to resolve (user|group)|System has not been booted|Failed to connect/.test(l),
    )
}

if (!systemdAnalyze) noteSkipReason('systemd-analyze missing, apt-get install systemd')

describe('the systemd unit of docs/operations.md', () => {
  it('runs the node in the foreground with SIGTERM and the allocator setting', async () => {
    const unit = await unitFromGuide()
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \S+\/bin\/ehrlog\.js node start --dir \S+$/m)
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m)
    expect(unit).toMatch(/^Environment=MALLOC_MMAP_THRESHOLD_=\d+$/m)
    expect(unit).toMatch(/^UMask=0077$/m)
  })

  // systemd-analyze is part of systemd; a container or macOS without it cannot check the unit.
  it.skipIf(!systemdAnalyze)(
    'passes systemd-analyze verify (skipped where systemd-analyze is not installed)',
    async () => {
      // ExecStart must name an executable that exists here: this machine's node binary.
      const unit = (await unitFromGuide()).replace(
        /^ExecStart=\/usr\/bin\/node /m,
        `ExecStart=${process.execPath} `,
      )
      expect(await problemsOf(unit)).toEqual([])
      // The check can fail: systemd-analyze exits 0 on a bad value, but names the line.
      const broken = unit.replace('KillSignal=SIGTERM', 'KillSignal=SIGFOO')
      expect((await problemsOf(broken)).join('\n')).toContain('SIGFOO')
    },
  )
})
