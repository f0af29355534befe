import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import {
  assembleStatsBundle,
  bytesHex,
  COUNTER_NAMES,
  type DecryptionShare,
  decodeSharePoints,
  encodeStatsAnchor,
  encodeStatsBundle,
  hexBytes,
  sharePublicKey,
  statsContext,
  verifyDecryptionShare,
} from '../core/stats/index.ts'
import type { Logger } from '../logger.ts'
import type { LogStore } from '../store/index.ts'
import type { DecryptMember, RequestView } from './decrypt-member.ts'
import type { MemberKey } from './dkg-runner.ts'
import type { StatsMessage } from './messages.ts'
import type { StatsConfig } from './stats-config.ts'

export interface StatsResult {
  period: string
  group: string
  origins: string[]
  file: string
  bundle: Uint8Array
  totals: (number | undefined)[]
  sharesFrom: string[]
  /** Members whose share was refused (bad proof) or who refused, with why. */
  refused: Array<{ member: string; reason: string; message: string }>
}

interface Pending {
  view: RequestView
  cells: number[]
  context: Uint8Array
  good: Map<number, DecryptionShare>
  answered: Set<string>
  refused: StatsResult['refused']
  wake: () => void
}

/**
 * The combiner (docs/protocol.md, "Statistics"): the node `ehrlog stats request` talks to.
 * It checks the request as a member would, asks the others on the control topic, checks each
 * share as the verifier will (a forged one is refused, logged and reported), and with k good
 * shares builds the bundle with each hospital's anchor into a cosigned checkpoint.
 */
export class DecryptCombiner {
  readonly #pending = new Map<string, Pending>()

  constructor(
    private readonly o: {
      self: string
      dir: string
      configFor: (generation?: number) => StatsConfig
      store: LogStore
      member: DecryptMember
      keyFor: (generation: number) => MemberKey | undefined
      /** The entries that show a generation's key: its dkg-key and qualified dealings (seqs). */
      keyEntries: (generation: number) => Array<{ origin: string; seq: number }>
      publish: (m: StatsMessage) => Promise<void>
      checkpoint: () => CosignedCheckpoint | undefined
      /** Earlier cosigned checkpoints seen, newest first: one may still cut a removed member. */
      recentCheckpoints?: () => readonly CosignedCheckpoint[]
      runCheckpoint: () => Promise<CosignedCheckpoint>
      onForgedShare: (member: string, id: string) => void
      timeoutMs: number
      logger: Logger
    },
  ) {}

  async request(input: {
    period: string
    group?: string
    origins?: string[]
    counters?: string[]
  }): Promise<StatsResult> {
    // The partition of the key generation the period's counters are under (re-keying).
    const config = this.o.configFor(this.o.member.generationOf(input.period, input.origins))
    const group = input.group ?? (input.origins ? undefined : config.policy.groups[0]?.name)
    let origins = input.origins
    if (group !== undefined) {
      const g = config.policy.groups.find((x) => x.name === group)
      if (!g)
        throw new EhrlogError(
          'ARGUMENT_INVALID',
          `no group ${group} in the policy (${config.policy.groups.map((x) => x.name).join(', ')})`,
          {
            details: { field: 'group' },
          },
        )
      origins = [...g.origins]
    }
    const wanted = cellsOf(input.counters)
    // This node is a member too: the same checks, refused here before anyone is asked.
    const view = this.o.member.view(input.period, origins ?? [])
    const min = config.policy.minCellCount
    const cells = wanted.filter((l) => view.totals[l]! >= min)
    const key = this.o.keyFor(view.generation)!
    const own = await this.o.member.share(input.period, view.origins, cells)
    const id = randomBytes(16).toString('hex')
    const context = statsContext(input.period, key.key, view.origins, view.sum, cells)
    const pending: Pending = {
      view,
      cells,
      context,
      good: new Map(),
      answered: new Set([this.o.self]),
      refused: [],
      wake: () => {},
    }
    this.#accept(pending, own, this.o.self)
    this.#pending.set(id, pending)
    try {
      await this.o.publish({
        type: 'decrypt-request',
        from: this.o.self,
        id,
        period: input.period,
        origins: view.origins,
        cells,
      })
      const deadline = Date.now() + this.o.timeoutMs
      while (pending.good.size < key.key.k && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          pending.wake = resolve
          setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now())))
        })
        // Gossip is best effort: ask again for members that have not answered.
        if (pending.good.size < key.key.k && Date.now() < deadline)
          await this.o.publish({
            type: 'decrypt-request',
            from: this.o.self,
            id,
            period: input.period,
            origins: view.origins,
            cells,
          })
      }
    } finally {
      this.#pending.delete(id)
    }
    if (pending.good.size < key.key.k) {
      const silent = key.members.filter((n) => !pending.answered.has(n))
      throw new EhrlogError(
        'UNAVAILABLE',
        `${pending.good.size} good decryption shares of ${key.key.k} needed after ${this.o.timeoutMs} ms; no answer from ${silent.join(', ') || 'none'}${pending.refused.length ? `; refused: ${pending.refused.map((r) => `${r.member} (${r.reason})`).join(', ')}` : ''}`,
        { details: { reason: 'stalled', silent, refused: pending.refused } },
      )
    }
    // Asked by hospitals: the policy let it through, so they are one group of its partition.
    const named =
      group ??
      this.o
        .configFor(view.generation)
        .policy.groups.find(
          (g) =>
            g.origins.length === view.origins.length &&
            g.origins.every((o) => view.origins.includes(o)),
        )?.name ??
      'group'
    return this.#finish(input.period, named, pending)
  }

  /** A decrypt-share or decrypt-refusal for a request of this node. */
  handle(m: Extract<StatsMessage, { type: 'decrypt-share' | 'decrypt-refusal' }>): void {
    const pending = this.#pending.get(m.id)
    if (!pending) return
    const index = this.o.keyFor(pending.view.generation)!.members.indexOf(m.from) + 1
    if (
      pending.good.has(index) ||
      pending.refused.some((r) => r.member === m.from && r.reason === 'share-forged')
    )
      return
    pending.answered.add(m.from)
    if (m.type === 'decrypt-refusal') {
      if (!pending.refused.some((r) => r.member === m.from && r.reason === m.reason))
        pending.refused.push({ member: m.from, reason: m.reason, message: m.message })
    } else {
      const points = decodeSharePoints(m.shares.map(hexBytes))
      if (!points || m.member !== index) {
        pending.refused.push({
          member: m.from,
          reason: 'malformed-share',
          message: 'not canonical points, or another member index',
        })
      } else {
        this.#accept(
          pending,
          { member: m.member, shares: points, proof: hexBytes(m.proof) },
          m.from,
        )
      }
    }
    pending.wake()
  }

  #accept(pending: Pending, share: DecryptionShare, from: string): void {
    const key = this.o.keyFor(pending.view.generation)!
    const c1s = pending.cells.map((l) => pending.view.sum[l]!.c1)
    if (
      !verifyDecryptionShare(pending.context, sharePublicKey(key.key, share.member), c1s, share)
    ) {
      pending.refused.push({
        member: from,
        reason: 'share-forged',
        message: `the decryption share of ${from} does not verify`,
      })
      this.o.logger.error({ member: from }, 'refused a forged decryption share')
      this.o.onForgedShare(from, bytesHex(pending.context).slice(0, 16))
      return
    }
    pending.good.set(share.member, share)
  }

  async #finish(period: string, group: string, pending: Pending): Promise<StatsResult> {
    const key = this.o.keyFor(pending.view.generation)!
    const shares = [...pending.good.values()]
      .sort((a, b) => a.member - b.member)
      .slice(0, key.key.k)
    const keyEntries = this.o.keyEntries(pending.view.generation)
    const cosigned = await this.#covering([...pending.view.hospitals, ...keyEntries])
    const anchorOf = async (origin: string, seq: number) => {
      const cut = cosigned.checkpoint.feeds.find((f) => f.origin === origin)!
      const entry = await this.o.store.getEntry(origin, seq)
      const proof = await this.o.store.inclusionProof(origin, seq, cut.treeSize)
      return encodeStatsAnchor({ seq, entryBytes: entry!.bytes, proof, cosigned })
    }
    // The key's provenance for outsiders (key-anchor.ts): anchored like the counters.
    const keyAnchors = await Promise.all(keyEntries.map((e) => anchorOf(e.origin, e.seq)))
    const hospitals = await Promise.all(
      pending.view.hospitals.map(async (h) => ({
        origin: h.origin,
        ciphertexts: h.ciphertexts,
        anchor: await anchorOf(h.origin, h.seq),
      })),
    )
    const bundle = assembleStatsBundle({
      period,
      key: key.key,
      hospitals,
      published: pending.cells,
      shares,
      keyAnchors,
    })
    const bytes = encodeStatsBundle(bundle)
    // The name the routes and the bundle message accept: [0-9T-]+ '.' [a-z0-9-]{1,63} '.stats'.
    const slug =
      group
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/^-+/, '')
        .slice(0, 63) || 'group'
    const file = `${period.replaceAll(':', '-')}.${slug}.stats`
    await mkdir(join(this.o.dir, 'bundles'), { recursive: true })
    await writeFile(join(this.o.dir, 'bundles', file), bytes, { mode: 0o644 })
    return {
      period,
      group,
      origins: pending.view.origins,
      file,
      bundle: bytes,
      totals: bundle.totals,
      sharesFrom: shares.map((s) => key.members[s.member - 1]!),
      refused: pending.refused,
    }
  }

  /** The latest cosigned checkpoint if it covers every entry to anchor; else a new round. */
  async #covering(
    entries: ReadonlyArray<{ origin: string; seq: number }>,
  ): Promise<CosignedCheckpoint> {
    const covers = (c: CosignedCheckpoint | undefined) =>
      c !== undefined &&
      entries.every(
        (h) => (c.checkpoint.feeds.find((f) => f.origin === h.origin)?.treeSize ?? 0) >= h.seq,
      )
    const latest = this.o.checkpoint()
    if (covers(latest)) return latest!
    // A period of a member removed since: the newer checkpoints no longer cut its feed.
    const earlier = this.o.recentCheckpoints?.().find((c) => covers(c))
    if (earlier) return earlier
    for (let attempt = 0; attempt < 3; attempt++) {
      const made = await this.o.runCheckpoint()
      if (covers(made)) return made
    }
    throw new EhrlogError(
      'UNAVAILABLE',
      'no cosigned checkpoint covers the counters entries yet: retry',
      {
        details: { reason: 'no-checkpoint' },
      },
    )
  }
}

/** Counter indexes from names or `prefix.*` patterns; all when none are given. */
export function cellsOf(counters: readonly string[] | undefined): number[] {
  if (!counters || counters.length === 0) return COUNTER_NAMES.map((_, l) => l)
  const out = new Set<number>()
  for (const pattern of counters) {
    const matched = COUNTER_NAMES.flatMap((name, l) =>
      name === pattern || (pattern.endsWith('*') && name.startsWith(pattern.slice(0, -1)))
        ? [l]
        : [],
    )
    if (matched.length === 0)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `no counter ${pattern} (see docs/format.md, "Private network statistics")`,
        {
          details: { field: 'counters' },
        },
      )
    for (const l of matched) out.add(l)
  }
  return [...out].sort((a, b) => a - b)
}
