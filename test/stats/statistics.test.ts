import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ristretto255 } from '@noble/curves/ed25519.js'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { decodeStatsBundle, encodeStatsBundle } from '../../node/core/stats/index.ts'
import { runCli } from '../helpers/cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { NAMES, useStatsNetwork, waitFor } from './harness.ts'

const [A, B, C] = NAMES

/**
 * The test's own reading of the counter table (docs/format.md, "Private network statistics"),
 * written out here rather than imported, for the few resources the test uses: the totals the
 * members decrypt must equal these counts of what the test ingested.
 */
const CATEGORY: Record<string, string> = {
  Observation: 'clinical',
  MedicationRequest: 'medication',
  Patient: 'demographic',
  Invoice: 'other',
}

function eventsFor(seed: number, n: number): AuditEvent[] {
  const actions = ['read', 'update', 'create', 'read'] as const
  const resources = Object.keys(CATEGORY)
  return Array.from({ length: n }, (_, i) =>
    makeEvent(seed * 100 + i, {
      action: actions[(seed + i) % actions.length]!,
      resource: resources[(seed * 3 + i) % resources.length]!,
      ...(i % 5 === 0 ? { detail: 'break-glass' } : {}),
    }),
  )
}

/** Plaintext counts per period from the entries themselves (events and alerts), by name. */
async function expectedCounts(
  net: ReturnType<typeof useStatsNetwork>,
  reader: string,
  period: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const add = (name: string) => {
    out[name] = (out[name] ?? 0) + 1
  }
  for (const origin of NAMES) {
    const counters = net.node(reader).stats.countersSeen().get(origin)!.get(period)!
    for await (const { entry } of net.node(reader).store.entries(origin, 1, counters.seq - 1)) {
      if (!entry.recorded.startsWith(period)) continue
      const body = entry.body as Record<string, string>
      if (entry.kind === 'event') {
        add(`events.${body.action}.${CATEGORY[body.resource!] ?? 'other'}`)
        if (body.detail === 'break-glass') add('emergency-accesses')
      } else if (entry.kind === 'alert') add(`incidents.${body.kind}`)
    }
  }
  return out
}

/** Independent of the verifier: each published total t has t·G = sum(C2) - sum_j lambda_j·D_j. */
function outsideCheck(bytes: Uint8Array): void {
  const b = decodeStatsBundle(bytes)
  const P = ristretto255.Point
  // The key anchors, read by hand (u32 seq, u32 len, the entry's JSON, ...): the qualified
  // dealings' commitments sum to the bundle's key, and at least k dkg-key entries state it.
  const bodies = (b.keyAnchors ?? []).map((a) => {
    const len = new DataView(a.buffer, a.byteOffset + 4, 4).getUint32(0)
    return JSON.parse(new TextDecoder().decode(a.subarray(8, 8 + len))).body
  })
  const keyHex = b.key.commitments.map((c) => c.toHex())
  const attesting = bodies.filter(
    (x) => x.type === 'dkg-key' && x.commitments.join() === keyHex.join(),
  )
  expect(attesting.length).toBeGreaterThanOrEqual(b.key.k)
  const dealings = bodies.filter((x) => x.type === 'dkg-dealing')
  expect(dealings.map((d) => d.dealer).sort()).toEqual(attesting[0].qualified)
  keyHex.forEach((hex, t) => {
    const sum = dealings.reduce((acc, d) => acc.add(P.fromHex(d.commitments[t])), P.ZERO)
    expect(sum.toHex()).toBe(hex)
  })
  const l = P.Fn.ORDER
  const modl = (x: bigint) => ((x % l) + l) % l
  const pow = (x: bigint, e: bigint): bigint => {
    let r = 1n
    let base = modl(x)
    for (let k = e; k > 0n; k >>= 1n) {
      if (k & 1n) r = modl(r * base)
      base = modl(base * base)
    }
    return r
  }
  const xs = b.shares.map((s) => BigInt(s.member))
  const lambdas = xs.map((xi, i) =>
    xs.reduce((acc, xj, j) => (i === j ? acc : modl(acc * xj * pow(xj - xi, l - 2n))), 1n),
  )
  let i = 0
  b.totals.forEach((t, cell) => {
    let c1 = P.ZERO
    let c2 = P.ZERO
    for (const h of b.hospitals) {
      c1 = c1.add(h.ciphertexts[cell]!.c1)
      c2 = c2.add(h.ciphertexts[cell]!.c2)
    }
    if (t === undefined) return
    let xc1 = P.ZERO
    b.shares.forEach((s, j) => {
      xc1 = xc1.add(s.shares[i]!.multiply(lambdas[j]!))
    })
    const m = t === 0 ? P.ZERO : P.BASE.multiply(BigInt(t))
    expect(c2.subtract(xc1).equals(m), `cell ${cell}`).toBe(true)
    i++
  })
}

describe('private network statistics on three real nodes', () => {
  const net = useStatsNetwork()

  it('key generation, stats entries over two periods, 2-of-3 decryption, bundles verified; policy and outages', async () => {
    await net.setUp()
    // Every node recorded the same key; every dealing and key entry is in every replica.
    const keys = [A, B, C].map((n) => net.node(n).stats.keysRecorded())
    for (const k of keys) for (const origin of NAMES) expect(k.get(origin)).toEqual(keys[0]!.get(A))
    const publicKey = Buffer.from(net.node(A).stats.key!.key.commitments[0]!.toBytes()).toString(
      'hex',
    )

    await net.ingestInOnePeriod({
      [A]: eventsFor(1, 7),
      [B]: eventsFor(2, 4),
      [C]: eventsFor(3, 5),
    })
    await net.ingestInOnePeriod({
      [A]: eventsFor(4, 3),
      [B]: eventsFor(5, 6),
      [C]: eventsFor(6, 2),
    })
    // The two periods in which every hospital has events (each node's entries say which).
    const periodsOf = (origin: string) => [
      ...(net.node(A).stats.countersSeen().get(origin)?.keys() ?? []),
    ]
    await waitFor(
      'every node to check a counters entry of every hospital for two common periods',
      () => {
        const common = periodsOf(A).filter(
          (p) => periodsOf(B).includes(p) && periodsOf(C).includes(p),
        )
        return (
          common.length >= 2 &&
          [A, B, C].every((n) =>
            NAMES.every((o) =>
              common.every(
                (p) => net.node(n).stats.countersSeen().get(o)?.get(p)?.verdict === 'ok',
              ),
            ),
          )
        )
      },
      30_000,
    )
    const periods = periodsOf(A)
      .filter((p) => periodsOf(B).includes(p) && periodsOf(C).includes(p))
      .slice(0, 2)
    expect(periods).toHaveLength(2)
    for (const n of NAMES) expect(net.incidents(n).filter((i) => i.kind === 'diverged')).toEqual([])

    const out = await mkdtemp(join(tmpdir(), 'ehrlog-stats-'))
    onTestFinished(() => rm(out, { recursive: true, force: true }))
    const endpoint = ['--node', net.node(A).httpUrl, '--token', await tokenOf(net.dir(A))]
    for (const period of periods) {
      const file = join(out, `${period.replaceAll(':', '-')}.stats`)
      const asked = await runCli([
        'stats',
        'request',
        ...endpoint,
        '--period',
        period,
        '--out',
        file,
        '--json',
      ])
      expect(asked.err, asked.err).toBe('')
      expect(asked.code).toBe(0)
      const answer = JSON.parse(asked.out)
      expect(answer.hospitals).toEqual([A, B, C])
      expect(answer.sharesFrom).toHaveLength(2)
      const verified = await runCli([
        'stats',
        'verify',
        file,
        '--period',
        period,
        '--key',
        publicKey,
        '--network',
        net.networkFile(),
        '--json',
      ])
      expect(verified.err, verified.err).toBe('')
      expect(verified.code).toBe(0)
      const result = JSON.parse(verified.out)
      expect(result).toMatchObject({
        period,
        hospitals: [A, B, C],
        anchored: true,
        cosignaturesChecked: true,
      })
      const want = await expectedCounts(net, B, period)
      // minCellCount 1: every cell under 1 (zero) is withheld, every other one published.
      const published = Object.fromEntries(
        Object.entries(result.totals).filter(([, v]) => v !== null),
      )
      expect(published).toEqual(want)
      expect(Object.values(want).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(9)
      outsideCheck(new Uint8Array(await readFile(file)))
      // No --key: with network.json the key is derived from the bundle's anchored entries.
      const keyless = await runCli([
        'stats',
        'verify',
        file,
        '--network',
        net.networkFile(),
        '--json',
      ])
      expect(keyless.code, keyless.err).toBe(0)
      expect(keyless.err).toMatch(
        /\(generation 1\) derived from the anchored dealings of members 1, 2, 3 and stated in the anchored dkg-key entries of hospital-a, hospital-b, hospital-c/,
      )
      expect(JSON.parse(keyless.out)).toMatchObject({
        publicKey,
        keyAnchored: true,
        keyGeneration: 1,
      })
      // Without its key anchors the same bundle fails there: the key would be the bundle's word.
      const stripped = decodeStatsBundle(new Uint8Array(await readFile(file)))
      delete stripped.keyAnchors
      const bare = join(out, 'bare.stats')
      await writeFile(bare, encodeStatsBundle(stripped))
      const unkeyed = await runCli(['stats', 'verify', bare, '--network', net.networkFile()])
      expect(unkeyed.code).not.toBe(0)
      expect(unkeyed.err).toMatch(/key-unanchored/)
      // Another hospital's anchor in a block fails: the anchor names the entry and its bytes.
      const decoded = decodeStatsBundle(new Uint8Array(await readFile(file)))
      decoded.hospitals[0]!.anchor = decoded.hospitals[1]!.anchor
      const swapped = join(out, 'swapped.stats')
      await writeFile(swapped, encodeStatsBundle(decoded))
      const refused = await runCli(['stats', 'verify', swapped, '--network', net.networkFile()])
      expect(refused.code).not.toBe(0)
      expect(refused.err).toMatch(
        /INVALID_PROOF: .*anchor-invalid: .*hospital-a's anchor holds hospital-b:/,
      )
      // The bundle is served to the public; a changed total fails verification.
      const bytes = new Uint8Array(await readFile(file))
      const served = await fetch(`${net.node(A).httpUrl}/api/v1/stats/bundles/${answer.file}`)
      expect(Buffer.compare(Buffer.from(await served.arrayBuffer()), Buffer.from(bytes))).toBe(0)
    }

    // The policy: one hospital, or a subset overlapping the network total already published.
    const single = await runCli([
      'stats',
      'request',
      ...endpoint,
      '--period',
      periods[0]!,
      '--hospitals',
      B,
      '--out',
      join(out, 'x'),
    ])
    expect(single.code).not.toBe(0)
    expect(single.err).toMatch(/FORBIDDEN.*one hospital/)
    const overlap = await runCli([
      'stats',
      'request',
      ...endpoint,
      '--period',
      periods[0]!,
      '--hospitals',
      `${A},${B}`,
      '--out',
      join(out, 'y'),
    ])
    expect(overlap.code).not.toBe(0)
    expect(overlap.err).toMatch(/FORBIDDEN.*overlap/)
    await expect(readFile(join(out, 'x'))).rejects.toThrow()

    // Bad requests get coded 4xx answers and change nothing.
    const url = `${net.node(A).httpUrl}/api/v1/stats/requests`
    const auth = { authorization: `Bearer ${endpoint[3]}` }
    expect((await fetch(`${url}?period=${periods[0]}`, { method: 'POST' })).status).toBe(401)
    const codeOf = async (query: string) => {
      const res = await fetch(`${url}?${query}`, { method: 'POST', headers: auth })
      return `${res.status} ${((await res.json()) as { error: { code: string } }).error.code}`
    }
    expect(await codeOf('')).toBe('400 ARGUMENT_INVALID')
    expect(await codeOf('period=2026-13-01')).toBe('400 ARGUMENT_INVALID')
    expect(await codeOf(`period=${periods[0]}&colour=red`)).toBe('400 ARGUMENT_INVALID')
    expect(await codeOf(`period=${periods[0]}&counters=events.reed`)).toBe('400 ARGUMENT_INVALID')
    expect(await codeOf(`period=${periods[0]}&group=nope`)).toBe('400 ARGUMENT_INVALID')
    expect(await codeOf(`period=${periods[0]!.slice(0, 16)}`)).toBe('403 FORBIDDEN') // a minute: wrong unit

    // One member down: 2 of 3 still decrypt. Two down: the request says who did not answer.
    await net.stop(C)
    const file = join(out, 'one-down.stats')
    const oneDown = await runCli([
      'stats',
      'request',
      ...endpoint,
      '--period',
      periods[1]!,
      '--out',
      file,
      '--json',
    ])
    expect(oneDown.code, oneDown.err).toBe(0)
    expect(JSON.parse(oneDown.out).sharesFrom).toEqual([A, B])
    expect((await runCli(['stats', 'verify', file, '--network', net.networkFile()])).code).toBe(0)
    await net.stop(B)
    const twoDown = await runCli([
      'stats',
      'request',
      ...endpoint,
      '--period',
      periods[1]!,
      '--out',
      join(out, 'z'),
    ])
    expect(twoDown.code).not.toBe(0)
    expect(twoDown.err).toMatch(
      /UNAVAILABLE.*1 good decryption shares of 2.*no answer from hospital-b, hospital-c/,
    )
  }, 180_000)
})

async function tokenOf(dir: string): Promise<string> {
  return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).apiToken
}
