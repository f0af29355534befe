import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Incident } from '../alerts/index.ts'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { bytesHex, COUNTER_NAMES, defaultThreshold, hexBytes } from '../core/stats/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { NodeIdentity } from '../identity/index.ts'
import type { Logger } from '../logger.ts'
import type { LiveMembership } from '../membership/live-membership.ts'
import type { LogStore } from '../store/index.ts'
import { BundleShare, type SeenBundle } from './bundle-share.ts'
import { CounterWork } from './counter-work.ts'
import { DecryptCombiner, type StatsResult } from './decrypt-combiner.ts'
import { DecryptMember } from './decrypt-member.ts'
import { DkgRunner, type MemberKey } from './dkg-runner.ts'
import { type CountersSeen, FeedScan } from './feed-scan.ts'
import { Generations } from './generations.ts'
import { decodeStatsMessage, encodeStatsMessage, type StatsMessage } from './messages.ts'
import { sealingKey } from './sealed-file.ts'
import {
  readStatsConfig,
  STATS_DIR,
  type StatsConfig,
  type StatsNodeOptions,
} from './stats-config.ts'

export interface StatsServiceOptions extends StatsNodeOptions {
  identity: NodeIdentity
  membership: Membership
  /** The membership as it changes: each version gets its own key generation (re-keying). */
  live?: LiveMembership
  store: LogStore
  /** Appends one `stats` entry to the own feed. */
  append: (body: unknown) => Promise<void>
  publish: (data: Uint8Array) => Promise<void>
  /**
   * Fetches an announced bundle from the member that announced it (bundle-fetch.ts), checked
   * against the announced size and digest; without it announced bundles are not fetched.
   */
  fetchBundle?: (
    from: string,
    announced: { file: string; size: number; digest: string },
  ) => Promise<Uint8Array>
  checkpoint: () => CosignedCheckpoint | undefined
  runCheckpoint: () => Promise<CosignedCheckpoint>
  report: (incident: Incident) => void
  logger: Logger
}

/**
 * The private statistics of a running node (docs/architecture.md, "Private network
 * statistics"): the key generation, the period counters and their check, and threshold
 * decryption, over the member-only control topic `stats` and `stats` entries in the feeds.
 * One serialized tick does the feed work; control messages are handled as they come.
 */
export class StatsService {
  #config: StatsConfig | undefined
  #scan: FeedScan | undefined
  #generations: Generations | undefined
  /** Membership versions applied since the last tick, each to get its key generation. */
  #changes: Membership[] = []
  #makeRunner: ((membership: Membership, config: StatsConfig) => DkgRunner) | undefined
  #counters: CounterWork | undefined
  #member: DecryptMember | undefined
  #combiner: DecryptCombiner | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
  readonly #self: string
  readonly #dir: string

  readonly #bundles: BundleShare

  constructor(private readonly o: StatsServiceOptions) {
    this.#self = o.identity.config.name
    this.#dir = join(o.identity.dir, STATS_DIR)
    this.#bundles = new BundleShare({
      self: this.#self,
      dir: this.#dir,
      signingKey: o.identity.signingKey,
      membership: o.membership,
      ...(o.live ? { live: o.live } : {}),
      ...(o.maxInlineBundleBytes !== undefined
        ? { maxInlineBundleBytes: o.maxInlineBundleBytes }
        : {}),
      publish: o.publish,
      ...(o.fetchBundle ? { fetchBundle: o.fetchBundle } : {}),
      keyOf: (g) => this.keyOf(g),
      stopped: () => this.#stopped,
      logger: o.logger,
    })
  }

  /** The node folder's stats/ directory (sealed key, published.json, bundles/). */
  get dir(): string {
    return this.#dir
  }

  get config(): StatsConfig | undefined {
    return this.#config
  }

  /** The member's key of the newest generation it holds, once a key generation is done. */
  get key(): MemberKey | undefined {
    for (const g of this.#generations?.list() ?? []) if (g.runner.key) return g.runner.key
    return undefined
  }

  /** The member's key of one generation (membership version + 1). */
  keyOf(generation: number): MemberKey | undefined {
    return this.#generations?.keyOf(generation)
  }

  /** The key generations set up, newest first (status and tests). */
  generations(): number[] {
    return this.#generations?.list().map((g) => g.runner.generation) ?? []
  }

  async start(): Promise<void> {
    const { membership, identity, store, logger } = this.o
    const config = await readStatsConfig(
      identity.dir,
      membership.members.map((m) => m.name),
    )
    if (!config) {
      logger.debug('no stats.json: the private statistics are off')
      return
    }
    this.#config = config
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    const sealKey = sealingKey(identity.storeKeys.valueKey, 'member')
    const jwk = identity.signingKey.export({ format: 'jwk' }) as { d: string }
    const scan = new FeedScan(store, config.period)
    this.#scan = scan
    const append = (body: unknown) => this.o.append(body)
    const publish = (m: StatsMessage) => this.o.publish(encodeStatsMessage(m, identity.signingKey))
    const generations = new Generations(scan)
    this.#generations = generations
    const boxSeed = new Uint8Array(Buffer.from(jwk.d, 'base64url'))
    this.#makeRunner = (m, c) =>
      new DkgRunner({
        self: this.#self,
        dir: this.#dir,
        generation: m.version + 1,
        membership: m,
        threshold: c.threshold,
        windowMs: this.o.dkgWindowMs ?? c.keyWindowMs,
        boxSeed,
        sealKey,
        scan,
        append,
        publish,
        onKeyMismatch: (origin, generation) =>
          this.#incident(
            origin,
            `stats-key:${generation}`,
            [],
            `${origin} recorded another statistics key than this node made for generation ${generation}`,
          ),
        ...(this.o.faults?.dkg ? { faults: this.o.faults.dkg } : {}),
        logger,
      })
    const live = this.o.live
    const newest = live?.current ?? membership
    for (let v = 0; v <= newest.version; v++) {
      const m = live?.at(v) ?? membership
      const c = v === newest.version ? config : await this.#configOf(m, config)
      const runner = this.#makeRunner(m, c)
      await runner.load()
      // Older versions: only the generations this node took part in (their keys serve old periods).
      if (v === newest.version || runner.key || runner.started)
        generations.add({ runner, config: c, since: v === newest.version ? Date.now() : 0 })
    }
    this.#unsubscribe = live?.onChange((now) => {
      this.#changes.push(now)
      void this.tick()
    })
    this.#counters = new CounterWork({
      self: this.#self,
      scan,
      closeDelayMs: this.o.closeDelayMs ?? 2000,
      append,
      onDiverged: (origin, period, seq, cells) =>
        this.#incident(
          origin,
          `stats-counters:${period}:${seq}`,
          [seq],
          `${origin}'s encrypted counters for ${period} (entry ${origin}:${seq}) are not what its own feed gives: ${cells.length} counter(s) differ (${cells
            .slice(0, 5)
            .map((l) => COUNTER_NAMES[l])
            .join(', ')}); it under- or over-reported`,
        ),
      onMissing: (origin, period) =>
        this.#incident(
          origin,
          `stats-missing:${period}`,
          [],
          `${origin} recorded its statistics key but appended no counters entry for ${period}, a period that closed (skipped): that period's totals cannot include it`,
        ),
      missingGraceMs: this.o.missingGraceMs ?? 300_000,
      ...(this.o.faults?.underReport ? { underReport: true } : {}),
      ...(this.o.faults?.skipPeriod ? { skipPeriod: true } : {}),
      logger,
    })
    this.#member = new DecryptMember({
      dir: this.#dir,
      configFor: (g) => generations.configOf(g),
      scan,
      keyFor: (g) => generations.keyOf(g),
      ...(this.o.faults?.forgeShare ? { forgeShare: true } : {}),
    })
    this.#combiner = new DecryptCombiner({
      self: this.#self,
      dir: this.#dir,
      configFor: (g) => generations.configOf(g),
      store,
      member: this.#member,
      keyFor: (g) => generations.keyOf(g),
      keyEntries: (g) => generations.keyEntries(g),
      publish,
      checkpoint: this.o.checkpoint,
      recentCheckpoints: () => this.#recent,
      runCheckpoint: this.o.runCheckpoint,
      onForgedShare: (member, context) =>
        this.#incident(
          member,
          `stats-share:${context}:${member}`,
          [],
          `the decryption share ${member} sent does not verify against its share public key: refused (forged or corrupted)`,
        ),
      timeoutMs: this.o.requestTimeoutMs ?? 20_000,
      logger,
    })
    this.#timer = setInterval(() => void this.tick(), this.o.tickMs ?? 5000)
    this.#timer.unref()
  }

  #unsubscribe: (() => void) | undefined

  /**
   * stats.json read for a version's members (re-keying re-reads the partition); when it no
   * longer fits an older version's list, that version counts as one group of its members.
   */
  async #configOf(m: Membership, newest: StatsConfig): Promise<StatsConfig> {
    const members = m.members.map((x) => x.name)
    try {
      const read = await readStatsConfig(this.o.identity.dir, members)
      if (read) return read
    } catch (err) {
      this.o.logger.warn(
        { version: m.version, err: (err as Error).message },
        'stats.json does not fit this membership version: one group of its members',
      )
    }
    return {
      period: newest.period,
      keyWindowMs: newest.keyWindowMs,
      threshold: defaultThreshold(members.length),
      policy: { ...newest.policy, members, groups: [{ name: 'network', origins: members }] },
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running?.catch(() => {})
  }

  /** One round of feed work (serialized): read new entries, DKG, close own periods, check others. */
  tick(): Promise<void> {
    if (this.#stopped || !this.#scan) return Promise.resolve()
    this.#running ??= this.#tick()
      .catch((err: unknown) =>
        this.o.logger.warn({ err: (err as Error).message }, 'statistics tick failed'),
      )
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  /** Cosigned checkpoints seen at ticks, newest first (at most 50; see DecryptCombiner). */
  #recent: CosignedCheckpoint[] = []

  #noteCheckpoint(): void {
    const c = this.o.checkpoint()
    if (!c || this.#recent[0]?.checkpoint.timeMs === c.checkpoint.timeMs) return
    this.#recent = [c, ...this.#recent].slice(0, 50)
  }

  async #tick(): Promise<void> {
    this.#noteCheckpoint()
    const scan = this.#scan!
    const generations = this.#generations!
    for (const m of this.#changes.splice(0)) {
      if (generations.has(m.version + 1)) continue
      let config: StatsConfig
      try {
        const read = await readStatsConfig(
          this.o.identity.dir,
          m.members.map((x) => x.name),
        )
        if (!read) continue
        config = read
      } catch (err) {
        this.o.logger.error(
          { version: m.version, err: (err as Error).message },
          'stats.json does not fit the new membership: no key generation for it until it does',
        )
        continue
      }
      const runner = this.#makeRunner!(m, config)
      await runner.load()
      generations.add({ runner, config, since: Date.now() })
      this.#config = config
      this.o.logger.info({ generation: runner.generation }, 'membership changed: re-keying')
    }
    await scan.scan()
    for (const [i, g] of generations.list().entries()) {
      if (i === 0 || (g.runner.started && !g.runner.key)) await g.runner.tick()
    }
    await scan.scan()
    const keyAt = (end: number) => generations.keyAt(end)
    while (!this.#stopped && (await this.#counters!.closeOwn(keyAt))) await scan.scan()
    this.#counters!.checkAll((g) => generations.keyOf(g))
    this.#counters!.reportMissing((origin, end) => generations.owes(origin, end))
  }

  /**
   * The `counters` entries this node has read, by origin and period, with its verdict on each
   * ('ok', the cells that differ, or undefined while unchecked): status and tests.
   */
  countersSeen(): ReadonlyMap<string, ReadonlyMap<string, CountersSeen>> {
    return this.#scan?.counters ?? new Map()
  }

  /** Each origin's `dkg-key` entries read so far (commitments hex): status and tests. */
  keysRecorded(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const [origin, keys] of this.#scan?.keys ?? []) out.set(origin, keys.at(-1)!.commitments)
    return out
  }

  /** Threshold decryption of a group's totals for a period: the bundle, or a coded error. */
  async request(input: {
    period: string
    group?: string
    origins?: string[]
    counters?: string[]
  }): Promise<StatsResult> {
    if (!this.#combiner)
      throw new EhrlogError(
        'UNAVAILABLE',
        'the private statistics are off on this node (no stats.json in its folder) or not started',
        { details: { reason: 'statistics-off' } },
      )
    await this.tick()
    const result = await this.#combiner.request(input)
    await this.shareBundle(result.file, result.bundle)
    return result
  }

  /**
   * Every member's public page serves a bundle too (each checks it before keeping it): inside
   * a `bundle` message when it fits one, else announced by name, size and digest, and fetched
   * from this node by each member (docs/protocol.md, "Statistics"; bundle-share.ts).
   */
  async shareBundle(file: string, bundle: Uint8Array): Promise<void> {
    await this.#bundles.share(file, bundle)
  }

  /** The last 100 bundles other members sent or announced, kept or not and why: status and tests. */
  bundlesSeen(): readonly SeenBundle[] {
    return this.#bundles.seen()
  }

  /** The `stats` control topic's handler (accepting means forwarding). */
  async handle(data: Uint8Array): Promise<boolean> {
    const m = decodeStatsMessage(data, (name) => {
      const hex = (this.o.live?.current ?? this.o.membership).byName(name)?.ed25519PublicKey
      return hex ? hexBytes(hex) : undefined
    })
    if (m.from === this.#self || !this.#scan) return true
    if (m.type === 'dkg-share') {
      if (m.to === this.#self) await this.#generations?.receive(m)
    } else if (m.type === 'decrypt-request') {
      void this.#answer(m)
    } else if (m.type === 'bundle' || m.type === 'bundle-announce') {
      await this.#bundles.handle(m)
    } else {
      this.#combiner?.handle(m)
    }
    return true
  }

  /** Replies already made, by request id: a request asked again (gossip is best effort) gets the same. */
  readonly #replies = new Map<string, Promise<Uint8Array>>()

  async #answer(m: Extract<StatsMessage, { type: 'decrypt-request' }>): Promise<void> {
    const key = `${m.from}/${m.id}`
    let reply = this.#replies.get(key)
    if (!reply) {
      reply = this.#reply(m)
      this.#replies.set(key, reply)
      if (this.#replies.size > 1000) this.#replies.delete(this.#replies.keys().next().value!)
    }
    await this.o.publish(await reply)
  }

  async #reply(m: Extract<StatsMessage, { type: 'decrypt-request' }>): Promise<Uint8Array> {
    const publish = async (reply: StatsMessage) =>
      encodeStatsMessage(reply, this.o.identity.signingKey)
    try {
      await this.tick()
      const share = await this.#member!.share(m.period, m.origins, m.cells)
      return await publish({
        type: 'decrypt-share',
        from: this.#self,
        id: m.id,
        member: share.member,
        shares: share.shares.map((p) => bytesHex(p.toBytes())),
        proof: bytesHex(share.proof),
      })
    } catch (err) {
      const reason =
        isEhrlogError(err) && typeof err.details.reason === 'string' ? err.details.reason : 'error'
      this.o.logger.warn(
        { requester: m.from, period: m.period, reason },
        'refused a decryption request',
      )
      return await publish({
        type: 'decrypt-refusal',
        from: this.#self,
        id: m.id,
        code: isEhrlogError(err) ? err.code : 'INTERNAL',
        reason,
        message: (err as Error).message.slice(0, 500),
      })
    }
  }

  #incident(origin: string, key: string, seqs: number[], summary: string): void {
    const seq = seqs[0]
    this.o.report({
      kind: 'diverged',
      key,
      reportingNode: this.#self,
      origin,
      entryIds: seqs.map((s) => `${origin}:${s}`),
      ...(seq !== undefined ? { seqFrom: seq, seqTo: seq } : {}),
      detectedAt: new Date().toISOString(),
      summary,
      evidence: { statistics: key },
    })
  }
}
