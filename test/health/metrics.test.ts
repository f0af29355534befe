// /healthz, /readyz and /metrics on real nodes (libp2p on loopback, LevelDB, HTTP), the
// scrape parsed by a strict text-format parser, and values that move with what the node does.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeMetrics } from '../../node/health/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login, register } from '../query/sessions.ts'

const A = 'hospital-a'
const ALLOWED_LABELS = new Set(['origin', 'kind', 'outcome', 'le'])

async function scrape(node: EhrlogNode, headers: Record<string, string> = {}) {
  const res = await fetch(`${node.httpUrl}/metrics`, { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { text, families: parsePrometheusText(text) }
}

describe('health and metrics over HTTP', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function connectedPair(): Promise<EhrlogNode[]> {
    const { dirs } = await initNetwork(await tempDir(), 2)
    nodes = await startNodes(dirs)
    await waitFor('the members to connect', () =>
      nodes.every((n) => n.net.peers().some((p) => p.name !== undefined)),
    )
    return nodes
  }

  it('counts appends, rounds, scrubs and queries, by origin and outcome only', async () => {
    const [a, b] = await connectedPair()
    const before = (await scrape(a!)).families
    const events0 = sampleValue(before, 'ehrlog_events_appended_total') ?? -1
    const batches0 = sampleValue(before, 'ehrlog_batches_appended_total') ?? -1
    const appendCount0 = sampleValue(before, 'ehrlog_append_duration_seconds_count') ?? -1
    expect(before.get('ehrlog_events_appended_total')?.type).toBe('counter')
    expect(sampleValue(before, 'ehrlog_checkpoint_age_seconds')).toBe(Number.POSITIVE_INFINITY)

    await a!.ingest.submit([1, 2, 3, 4, 5].map((i) => makeEvent(i)))
    await waitFor('replication', () => b!.store.size(A) === 5)
    await a!.checkpoints.runRound()
    await a!.integrity.scrubNow()
    await register(a!.auth, 'root@hospital-a', 'admin')
    await a!.query.answer(login(a!.auth, 'root@hospital-a').token, { filter: {}, via: 'http' })
    await expect(a!.query.answer('not a token', { filter: {}, via: 'http' })).rejects.toThrow()

    const { text, families } = await scrape(a!)
    // The query above recorded its own audit event: 5 + 1 events, in two batches.
    expect(sampleValue(families, 'ehrlog_events_appended_total')).toBe(events0 + 6)
    expect(sampleValue(families, 'ehrlog_batches_appended_total')).toBe(batches0 + 2)
    expect(sampleValue(families, 'ehrlog_append_duration_seconds_count')).toBe(appendCount0 + 2)
    // The feed also holds the admin's user records (appended by the auth service, not ingest).
    const size = a!.store.size(A)
    expect(size).toBeGreaterThan(6)
    expect(sampleValue(families, 'ehrlog_feed_size', { origin: A })).toBe(size)
    expect(sampleValue(families, 'ehrlog_feed_lag', { origin: A })).toBe(0)
    expect(sampleValue(families, 'ehrlog_members')).toBe(1)
    expect(sampleValue(families, 'ehrlog_members_connected')).toBe(1)
    expect(
      sampleValue(families, 'ehrlog_checkpoint_round_duration_seconds_count', {
        outcome: 'cosigned',
      }),
    ).toBe(1)
    const age = sampleValue(families, 'ehrlog_checkpoint_age_seconds')!
    expect(age).toBeGreaterThanOrEqual(0)
    expect(age).toBeLessThan(60)
    expect(sampleValue(families, 'ehrlog_scrub_duration_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(sampleValue(families, 'ehrlog_queries_total', { outcome: 'answered' })).toBe(1)
    expect(sampleValue(families, 'ehrlog_queries_total', { outcome: 'UNAUTHORIZED' })).toBe(1)
    expect(
      sampleValue(families, 'ehrlog_query_duration_seconds_count', { outcome: 'answered' }),
    ).toBe(1)
    expect(sampleValue(families, 'ehrlog_alert_queue_length')).toBe(0)

    // Labels name origins, kinds and outcomes only: no patient, user or entry in a scrape.
    for (const family of families.values())
      for (const sample of family.samples)
        for (const label of Object.keys(sample.labels)) expect(ALLOWED_LABELS).toContain(label)
    for (const secret of ['patient-1', 'Patient Name', 'dr-1', 'root@hospital-a'])
      expect(text).not.toContain(secret)

    // The other replica shows the same feed, caught up.
    const atB = (await scrape(b!)).families
    await waitFor('the rest of the feed to reach b', () => b!.store.size(A) === size)
    expect(sampleValue((await scrape(b!)).families, 'ehrlog_feed_size', { origin: A })).toBe(size)
    expect(sampleValue(atB, 'ehrlog_events_appended_total')).toBe(0) // b appended nothing itself
  })

  it('is alive and ready with a member connected, and says why not when none is', async () => {
    const [a, b] = await connectedPair()
    const alive = await fetch(`${a!.httpUrl}/healthz`)
    expect(alive.status).toBe(200)
    expect(await alive.json()).toEqual({ status: 'alive' })
    const ready = await fetch(`${a!.httpUrl}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready' })

    await b!.stop()
    await waitFor('a to see b gone', () => a!.net.peers().every((p) => p.name === undefined))
    const notReady = await fetch(`${a!.httpUrl}/readyz`)
    expect(notReady.status).toBe(503)
    const body = (await notReady.json()) as { error: { code: string; details: unknown } }
    expect(body.error).toMatchObject({
      code: 'UNAVAILABLE',
      details: { reasons: ['no member connected (0 of 1)'] },
    })
    expect((await fetch(`${a!.httpUrl}/healthz`)).status).toBe(200) // alive all the same
    expect(sampleValue((await scrape(a!)).families, 'ehrlog_members_connected')).toBe(0)
  })

  it('with http.metricsToken, a wrong token is refused and the right one accepted', async () => {
    const { dirs } = await initNetwork(await tempDir(), 1)
    const token = 'metrics_0123456789abcdefghijklmnopqrstuv'
    const path = join(dirs[0]!, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.http = { ...config.http, metricsToken: token }
    await writeFile(path, JSON.stringify(config), { mode: 0o600 })
    nodes = await startNodes(dirs)
    const url = `${nodes[0]!.httpUrl}/metrics`
    const wrong = await fetch(url, { headers: { authorization: 'Bearer not-the-token' } })
    expect(wrong.status).toBe(401)
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
    await scrape(nodes[0]!, { authorization: `Bearer ${token}` })
  })
})

describe('NodeMetrics', () => {
  it('reports the lag behind the largest size a member announced, for member origins only', async () => {
    const metrics = new NodeMetrics()
    const sizes = new Map([
      [A, 10],
      ['hospital-b', 4],
    ])
    metrics.bind({
      sizes: () => sizes,
      memberCount: () => 1,
      connectedMembers: () => 1,
      latestCheckpointMs: () => Date.now() - 5000,
      alertQueueLength: () => 2,
    })
    metrics.announced(new Map([[A, 25]]))
    metrics.announced(
      new Map([
        [A, 12], // smaller than announced before: the largest counts
        ['hospital-b', 4],
        ['made-up', 1_000_000],
      ]),
    )
    const families = parsePrometheusText(await metrics.registry.metrics())
    expect(sampleValue(families, 'ehrlog_feed_lag', { origin: A })).toBe(15)
    expect(sampleValue(families, 'ehrlog_feed_lag', { origin: 'hospital-b' })).toBe(0)
    expect(sampleValue(families, 'ehrlog_feed_lag', { origin: 'made-up' })).toBeUndefined()
    expect(sampleValue(families, 'ehrlog_alert_queue_length')).toBe(2)
    expect(sampleValue(families, 'ehrlog_checkpoint_age_seconds')).toBeGreaterThanOrEqual(5)
    sizes.set(A, 25)
    const caughtUp = parsePrometheusText(await metrics.registry.metrics())
    expect(sampleValue(caughtUp, 'ehrlog_feed_lag', { origin: A })).toBe(0)
  })
})

describe('the test parser of the text format', () => {
  it('reads the exposition-format example and refuses malformed lines', () => {
    const families = parsePrometheusText(
      [
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3 1395066363000',
        '# TYPE http_request_duration_seconds histogram',
        'http_request_duration_seconds_bucket{le="0.05"} 24054',
        'http_request_duration_seconds_bucket{le="+Inf"} 144320',
        'http_request_duration_seconds_sum 53423',
        'http_request_duration_seconds_count 144320',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        '',
      ].join('\n'),
    )
    expect(families.get('http_requests_total')?.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
    })
    expect(sampleValue(families, 'http_request_duration_seconds_count')).toBe(144320)
    expect(families.get('msdos_file_access_time_seconds')).toMatchObject({
      type: 'untyped',
      samples: [{ labels: { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' } }],
    })
    for (const bad of ['metric{a="1"', 'metric{a=1} 2', 'metric 1 2 3', 'metric one', '9lives 1'])
      expect(() => parsePrometheusText(`${bad}\n`)).toThrow(/line 1/)
  })
})
