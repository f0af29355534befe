// Quorum health: a member that goes away is one email to the admins, and its return another;
// real nodes on loopback and a real SMTP server. The stall rule is checked on a fake clock.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Incident } from '../../node/alerts/index.ts'
import { QuorumWatch, type QuorumWatchOptions, readinessOf } from '../../node/health/index.ts'
import { silentLogger } from '../../node/logger.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const ADMIN = 'it-ops@hospital-a.example'
const SILENCE_MS = 2000

describe('quorum alerts by email', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  async function withQuorumAlerts(dir: string, port: number): Promise<void> {
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.alerts = {
      admins: [ADMIN],
      smtp: { host: '127.0.0.1', port, secure: false, requireTLS: false, from: 'ehrlog@a.example' },
      memberSilenceMs: SILENCE_MS,
    }
    await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
  }

  const namedPeers = (node: EhrlogNode) => node.net.peers().filter((p) => p.name).length
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('stopping one of three nodes sends one email, and its return one recovery email', async () => {
    smtp = await startSmtpServer()
    const { dirs } = await initNetwork(await tempDir(), 3)
    await withQuorumAlerts(dirs[0]!, smtp.port)
    const opts = { alertRetryMs: 200, checkpointIntervalMs: 10_000 }
    // hospital-a last: its members are up when its watch starts (each start takes a while).
    nodes = await startNodes([dirs[1]!, dirs[2]!], opts)
    nodes.unshift(...(await startNodes([dirs[0]!], opts)))
    await waitFor('all members connected', () => nodes.every((n) => namedPeers(n) === 2))
    await sleep(SILENCE_MS + 500) // a healthy network sends nothing
    expect(smtp.received).toHaveLength(0)

    await nodes[2]!.stop()
    await waitFor('the degraded email', () => smtp!.received.length >= 1)
    const degraded = parseMail(smtp.received[0]!.raw)
    expect(smtp.received[0]!.rcptTo).toEqual([ADMIN])
    expect(degraded.subject).toMatch(
      /^\[Network Degraded\] hospital-a: member hospital-c unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z; checkpoints still possible: 2 of 3 members reachable, 2 needed$/,
    )
    expect(degraded.text).toContain('Origin: hospital-c')
    expect(degraded.text).toContain('Immediate action needs to be taken')
    await sleep(SILENCE_MS + 500) // still away: no second email for the same spell
    expect(smtp.received).toHaveLength(1)

    const [back] = await startNodes([dirs[2]!], opts)
    nodes[2] = back!
    await waitFor('the recovery email', () => smtp!.received.length >= 2)
    const recovered = parseMail(smtp.received[1]!.raw)
    expect(recovered.subject).toMatch(
      /^\[Network Recovered\] hospital-a: recovered at .*: all 3 members reachable, checkpoints cosigned \(since .*: member hospital-c unreachable since/,
    )
    expect(recovered.text).not.toContain('Immediate action')
    expect(recovered.text).toContain('Nothing to do: the members caught up by themselves.')
    await sleep(SILENCE_MS + 500)
    expect(smtp.received).toHaveLength(2)

    const scrape = parsePrometheusText(await (await fetch(`${nodes[0]!.httpUrl}/metrics`)).text())
    expect(sampleValue(scrape, 'ehrlog_incidents_total', { kind: 'quorum-degraded' })).toBe(1)
    expect(sampleValue(scrape, 'ehrlog_incidents_total', { kind: 'quorum-recovered' })).toBe(1)
  })
})

describe('QuorumWatch', () => {
  /** A watch over members b and c on a clock the test moves; reports collected. */
  function watch(overrides: Partial<QuorumWatchOptions> = {}) {
    const state = {
      now: 1_000_000,
      connected: new Set(['hospital-b', 'hospital-c']),
      uncheckpointed: false,
      latest: undefined as number | undefined,
    }
    const reports: Incident[] = []
    const w = new QuorumWatch({
      self: 'hospital-a',
      members: ['hospital-b', 'hospital-c'],
      quorum: 2,
      memberSilenceMs: 60_000,
      stallRounds: 3,
      checkpointIntervalMs: 10_000,
      connected: () => state.connected,
      uncheckpointed: () => state.uncheckpointed,
      latestCheckpointMs: () => state.latest,
      report: (i) => reports.push(i),
      logger: silentLogger(),
      checkEveryMs: 3_600_000, // the test calls check() itself
      now: () => state.now,
      ...overrides,
    })
    w.start()
    return { w, state, reports }
  }

  it('reports checkpoints stalled for stallRounds intervals once, and their recovery', () => {
    const { w, state, reports } = watch()
    state.uncheckpointed = true
    w.check() // changes wait from now
    state.now += 29_999
    w.check()
    expect(reports).toHaveLength(0)
    state.now += 1
    w.check()
    state.now += 10_000
    w.check()
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({ kind: 'quorum-degraded', origin: 'hospital-a' })
    expect(reports[0]!.summary).toMatch(
      /^checkpoints stalled since .* \(3 rounds\): 3 of 3 members reachable, 2 needed$/,
    )
    state.latest = state.now // a checkpoint is cosigned
    state.uncheckpointed = false
    w.check()
    expect(reports.map((r) => r.kind)).toEqual(['quorum-degraded', 'quorum-recovered'])
    expect(reports[1]!.key).toBe(reports[0]!.key) // one spell, one pair
    w.stop()
  })

  it('names every silent member and says when too few remain for a checkpoint', () => {
    const { w, state, reports } = watch()
    state.connected = new Set()
    state.now += 60_000
    w.check()
    expect(reports).toHaveLength(1)
    expect(reports[0]!.summary).toMatch(
      /^member hospital-b unreachable since .*; member hospital-c unreachable since .*; checkpoints at risk: 1 of 3 members reachable, 2 needed$/,
    )
    state.connected = new Set(['hospital-b'])
    w.check()
    expect(reports).toHaveLength(1) // c is still away
    state.connected = new Set(['hospital-b', 'hospital-c'])
    w.check()
    expect(reports.map((r) => r.kind)).toEqual(['quorum-degraded', 'quorum-recovered'])
    w.stop()
  })

  it('does not watch stalls when rounds run on demand only (interval 0)', () => {
    const { w, state, reports } = watch({ checkpointIntervalMs: 0 })
    state.uncheckpointed = true
    w.check()
    state.now += 10 * 60_000
    state.connected = new Set(['hospital-b', 'hospital-c'])
    w.check()
    expect(reports).toHaveLength(0)
    w.stop()
  })
})

describe('readinessOf', () => {
  const base = {
    started: () => true,
    appendHold: () => undefined,
    memberCount: () => 2,
    connectedMembers: () => 1,
  }
  it('is ready with the store open, the tip known and a member connected; else names why', () => {
    expect(readinessOf(base)).toEqual({ ready: true, reasons: [] })
    expect(readinessOf({ ...base, started: () => false })).toEqual({
      ready: false,
      reasons: ['the node is starting or stopping'],
    })
    expect(
      readinessOf({ ...base, appendHold: () => 'waiting for peers', connectedMembers: () => 0 }),
    ).toEqual({
      ready: false,
      reasons: [
        "the own feed's tip is not known yet: waiting for peers",
        'no member connected (0 of 2)',
      ],
    })
    expect(readinessOf({ ...base, memberCount: () => 0, connectedMembers: () => 0 }).ready).toBe(
      true,
    )
  })
})
