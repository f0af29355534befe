import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Incident } from '../alerts/index.ts'
import { type CosignedCheckpoint, verifyCosignedCheckpoint } from '../core/checkpoint.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { sha256 } from '../core/merkle/index.ts'
import { bytesHex, COUNTER_NAMES, hexBytes, verifyStatsBundle } from '../core/stats/index.ts'
import { checkpointKeysOf, type Membership } from '../core/trust/index.ts'
import type { NodeIdentity } from '../identity/index.ts'
import type { Logger } from '../logger.ts'
import type { LogStore } from '../store/index.ts'
import { MAX_BUNDLE_BYTES } from './bundle-fetch.ts'
import { CounterWork } from './counter-work.ts'
import { DecryptCombiner, type StatsResult } from './decrypt-combiner.ts'
import { DecryptMember } from './decrypt-member.ts'
import { DkgRunner, type MemberKey } from './dkg-runner.ts'
import { type CountersSeen, FeedScan } from './feed-scan.ts'
import {
  decodeStatsMessage,
  encodeStatsMessage,
  MAX_INLINE_BUNDLE_BYTES,
  type StatsMessage,
} from './messages.ts'
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
  #dkg: DkgRunner | undefined
  #counters: CounterWork | undefined
  #member: DecryptMember | undefined
  #combiner: DecryptCombiner | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
  readonly #self: string
  readonly #dir: string

  constructor(private readonly o: StatsServiceOptions) {
    this.#self = o.identity.config.name
    this.#dir = join(o.identity.dir, STATS_DIR)
  }

  /** The node folder's stats/ directory (sealed key, published.json, bundles/). */
  get dir(): string {
    return this.#dir
  }

  get config(): StatsConfig | undefined {
    return this.#config
  }

  /** The member's key, once the key generation is done. */
  get key(): MemberKey | undefined {
    return this.#dkg?.key
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
    this.#dkg = new DkgRunner({
      self: this.#self,
      dir: this.#dir,
      membership,
      threshold: config.threshold,
      boxSeed: new Uint8Array(Buffer.from(jwk.d, 'base64url')),
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
      logger,
    })
    await this.#dkg.load()
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
      ...(this.o.faults?.underReport ? { underReport: true } : {}),
      logger,
    })
    this.#member = new DecryptMember({
      dir: this.#dir,
      config,
      scan,
      key: () => this.key,
      ...(this.o.faults?.forgeShare ? { forgeShare: true } : {}),
    })
    this.#combiner = new DecryptCombiner({
      self: this.#self,
      dir: this.#dir,
      config,
      membership,
      store,
      member: this.#member,
      key: () => this.key,
      publish,
      checkpoint: this.o.checkpoint,
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

  async stop(): Promise<void> {
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

  async #tick(): Promise<void> {
    const scan = this.#scan!
    await scan.scan()
    await this.#dkg!.tick()
    const key = this.key
    if (!key) return
    await scan.scan()
    while (!this.#stopped && (await this.#counters!.closeOwn(key))) await scan.scan()
    this.#counters!.checkAll(key)
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
   * from this node by each member (docs/protocol.md, "Statistics").
   */
  async shareBundle(file: string, bundle: Uint8Array): Promise<void> {
    const inline = Math.min(
      this.o.maxInlineBundleBytes ?? MAX_INLINE_BUNDLE_BYTES,
      MAX_INLINE_BUNDLE_BYTES,
    )
    const m: StatsMessage =
      bundle.length <= inline
        ? { type: 'bundle', from: this.#self, file, bundle: Buffer.from(bundle).toString('base64') }
        : {
            type: 'bundle-announce',
            from: this.#self,
            file,
            size: bundle.length,
            digest: bytesHex(sha256(bundle)),
          }
    await this.o.publish(encodeStatsMessage(m, this.o.identity.signingKey))
  }

  /** Announced bundles being fetched, by file and digest: an announcement seen twice fetches once. */
  readonly #fetching = new Set<string>()

  async #fetchAnnounced(m: Extract<StatsMessage, { type: 'bundle-announce' }>): Promise<void> {
    const key = `${m.file}/${m.digest}`
    if (!this.o.fetchBundle || this.#fetching.has(key) || m.size > MAX_BUNDLE_BYTES) return
    const held = await readFile(join(this.#dir, 'bundles', m.file)).catch(() => undefined)
    if (held && bytesHex(sha256(held)) === m.digest) return
    this.#fetching.add(key)
    try {
      for (let attempt = 1; attempt <= 3 && !this.#stopped; attempt++) {
        try {
          const bytes = await this.o.fetchBundle(m.from, m)
          await this.#keepBundle(m.from, m.file, bytes)
          return
        } catch (err) {
          this.o.logger.warn(
            { from: m.from, file: m.file, attempt, err: (err as Error).message },
            'could not fetch an announced statistics bundle',
          )
          if (attempt === 3 || (isEhrlogError(err) && err.code === 'MESSAGE_INVALID')) {
            this.#saw(m.from, m.file, false, (err as Error).message)
            return
          }
          await new Promise((r) => setTimeout(r, 1000 * attempt))
        }
      }
    } finally {
      this.#fetching.delete(key)
    }
  }

  readonly #bundlesSeen: Array<{ from: string; file: string; kept: boolean; why?: string }> = []

  /** The last 100 bundles other members sent or announced, kept or not and why: status and tests. */
  bundlesSeen(): ReadonlyArray<{ from: string; file: string; kept: boolean; why?: string }> {
    return this.#bundlesSeen
  }

  #saw(from: string, file: string, kept: boolean, why?: string): void {
    this.#bundlesSeen.push({ from, file, kept, ...(why !== undefined ? { why } : {}) })
    if (this.#bundlesSeen.length > 100) this.#bundlesSeen.shift()
  }

  /** A bundle another member combined: kept for the public page only if it verifies here. */
  async #keepBundle(from: string, file: string, bytes: Uint8Array): Promise<boolean> {
    try {
      verifyStatsBundle(bytes, {
        requireAnchors: true,
        ...(this.key ? { publicKey: this.key.key.commitments[0]!.toBytes() } : {}),
        checkCheckpoint: (c) =>
          void verifyCosignedCheckpoint(c, checkpointKeysOf(this.o.membership.keys)),
      })
    } catch (err) {
      this.o.logger.warn({ from, file, err: (err as Error).message }, 'refused a statistics bundle')
      this.#saw(from, file, false, (err as Error).message)
      return false
    }
    await mkdir(join(this.#dir, 'bundles'), { recursive: true })
    await writeFile(join(this.#dir, 'bundles', file), bytes, { mode: 0o644 })
    this.#saw(from, file, true)
    return true
  }

  /** The `stats` control topic's handler (accepting means forwarding). */
  async handle(data: Uint8Array): Promise<boolean> {
    const m = decodeStatsMessage(data, (name) => {
      const hex = this.o.membership.byName(name)?.ed25519PublicKey
      return hex ? hexBytes(hex) : undefined
    })
    if (m.from === this.#self || !this.#scan) return true
    if (m.type === 'dkg-share') {
      if (m.to === this.#self) await this.#dkg?.receive(m)
    } else if (m.type === 'decrypt-request') {
      void this.#answer(m)
    } else if (m.type === 'bundle') {
      await this.#keepBundle(m.from, m.file, new Uint8Array(Buffer.from(m.bundle, 'base64')))
    } else if (m.type === 'bundle-announce') {
      // Fetched apart from the topic's handler: gossip does not wait for the transfer.
      void this.#fetchAnnounced(m)
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
