import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { useLocalNetworks } from './harness.ts'
import { appendEvents, eventRange } from './node-api.ts'

const tempDir = useTempDirs()

describe('checking a running node', () => {
  const createNetwork = useLocalNetworks()

  it('verify goes through the node (its store is locked); log asks it as a query with the session', async () => {
    const net = await createNetwork({ nodes: 1, fileIndex: 6 })
    const a = await net.start('hospital-a')
    await appendEvents(a, eventRange(1, 3))

    const verify = await runCli(['verify', '--dir', a.dir])
    expect(verify.err).toBe('')
    expect(verify.code).toBe(0)
    expect(verify.out).toMatch(/^intact: \d+ entries in 1 feed verified/)
    const json = await runCli(['verify', '--dir', a.dir, '--json'])
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, feeds: [{ origin: 'hospital-a' }] })

    // Without the folder's API token the node refuses.
    const wrongToken = await runCli(['verify', '--dir', a.dir], {
      EHRLOG_API_TOKEN: 'x'.repeat(43),
    })
    expect(wrongToken.err).toMatch(/^UNAUTHORIZED: /)

    // Entries hold patient data: `log` on a running node is a query with the user's session.
    const configDir = await tempDir()
    const log = await runCli(['log', '--dir', a.dir], { EHRLOG_CONFIG_DIR: configDir })
    expect(log.err).toMatch(/^UNAUTHORIZED: not logged in: run `ehrlog login/)
    expect(log.err).not.toMatch(/STORE_LOCKED/)
  }, 60_000)
})
