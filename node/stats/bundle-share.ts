import type { KeyObject } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { verifyCosignedCheckpoint } from '../core/checkpoint.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { sha256 } from '../core/merkle/index.ts'
import { bytesHex, verifyStatsBundle } from '../core/stats/index.ts'
import { checkpointKeysOf, type Membership } from '../core/trust/index.ts'
import type { Logger } from '../logger.ts'
import type { LiveMembership } from '../membership/live-membership.ts'
import { MAX_BUNDLE_BYTES } from './bundle-fetch.ts'
import type { MemberKey } from './dkg-runner.ts'
import { decodeStatsKey } from './key-codec.ts'
import { encodeStatsMessage, MAX_INLINE_BUNDLE_BYTES, type StatsMessage } from './messages.ts'

/*
 * Combined statistics bundles between members (docs/protocol.md, "Statistics"): the combiner
 * sends its bundle inside a `bundle` message when it fits one, else announces it by name, size
 * and digest, and each member fetches it (bundle-fetch.ts). Every member checks a bundle (its
 * anchors, its key anchors, and the key against the one it made for that generation) before
 * keeping it for its public page.
 */

export interface SeenBundle {
  from: string
  file: string
  kept: boolean
  why?: string
}

export class BundleShare {
  constructor(
    private readonly o: {
      self: string
      /** The node's stats/ folder; bundles are kept in its bundles/ folder. */
      dir: string
      signingKey: KeyObject
      membership: Membership
      live?: LiveMembership
      /** The largest bundle sent inline (at most MAX_INLINE_BUNDLE_BYTES). */
      maxInlineBundleBytes?: number
      publish: (data: Uint8Array) => Promise<void>
      fetchBundle?: (
        from: string,
        announced: { file: string; size: number; digest: string },
      ) => Promise<Uint8Array>
      /** This member's key of a generation, when it holds one. */
      keyOf: (generation: number) => MemberKey | undefined
      stopped: () => boolean
      logger: Logger
    },
  ) {}

  /** Sends a bundle inline when it fits a `bundle` message (anchors and key anchors included), else announces it. */
  async share(file: string, bundle: Uint8Array): Promise<void> {
    const inline = Math.min(
      this.o.maxInlineBundleBytes ?? MAX_INLINE_BUNDLE_BYTES,
      MAX_INLINE_BUNDLE_BYTES,
    )
    const m: StatsMessage =
      bundle.length <= inline
        ? {
            type: 'bundle',
            from: this.o.self,
            file,
            bundle: Buffer.from(bundle).toString('base64'),
          }
        : {
            type: 'bundle-announce',
            from: this.o.self,
            file,
            size: bundle.length,
            digest: bytesHex(sha256(bundle)),
          }
    await this.o.publish(encodeStatsMessage(m, this.o.signingKey))
  }

  /** A `bundle` or `bundle-announce` message of another member. */
  async handle(m: Extract<StatsMessage, { type: 'bundle' | 'bundle-announce' }>): Promise<void> {
    if (m.type === 'bundle') {
      await this.#keep(m.from, m.file, new Uint8Array(Buffer.from(m.bundle, 'base64')))
    } else {
      // Fetched apart from the topic's handler: gossip does not wait for the transfer.
      void this.#fetchAnnounced(m)
    }
  }

  /** Announced bundles being fetched, by file and digest: an announcement seen twice fetches once. */
  readonly #fetching = new Set<string>()

  async #fetchAnnounced(m: Extract<StatsMessage, { type: 'bundle-announce' }>): Promise<void> {
    const key = `${m.file}/${m.digest}`
    if (!this.o.fetchBundle || this.#fetching.has(key) || m.size > MAX_BUNDLE_BYTES) return
    const held = await readFile(join(this.o.dir, 'bundles', m.file)).catch(() => undefined)
    if (held && bytesHex(sha256(held)) === m.digest) return
    this.#fetching.add(key)
    try {
      for (let attempt = 1; attempt <= 3 && !this.o.stopped(); attempt++) {
        try {
          const bytes = await this.o.fetchBundle(m.from, m)
          await this.#keep(m.from, m.file, bytes)
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

  readonly #seen: SeenBundle[] = []

  /** The last 100 bundles other members sent or announced, kept or not and why. */
  seen(): readonly SeenBundle[] {
    return this.#seen
  }

  #saw(from: string, file: string, kept: boolean, why?: string): void {
    this.#seen.push({ from, file, kept, ...(why !== undefined ? { why } : {}) })
    if (this.#seen.length > 100) this.#seen.shift()
  }

  /** A bundle another member combined: kept for the public page only if it verifies here. */
  async #keep(from: string, file: string, bytes: Uint8Array): Promise<boolean> {
    try {
      const v = verifyStatsBundle(bytes, {
        requireAnchors: true,
        requireKeyAnchors: true,
        // Each checkpoint under the keys of the membership version it names.
        checkCheckpoint: (c) =>
          void verifyCosignedCheckpoint(
            c,
            checkpointKeysOf(
              this.o.live?.keysFor(c.checkpoint.membership) ?? this.o.membership.keys,
            ),
          ),
      })
      const mine = this.o.keyOf(v.keyProvenance!.generation)
      if (mine && !mine.key.commitments[0]!.equals(pointOf(v.publicKey)))
        throw new EhrlogError('INVALID_PROOF', 'its key is not the one this member made', {
          details: { reason: 'wrong-key' },
        })
    } catch (err) {
      this.o.logger.warn({ from, file, err: (err as Error).message }, 'refused a statistics bundle')
      this.#saw(from, file, false, (err as Error).message)
      return false
    }
    await mkdir(join(this.o.dir, 'bundles'), { recursive: true })
    await writeFile(join(this.o.dir, 'bundles', file), bytes, { mode: 0o644 })
    this.#saw(from, file, true)
    return true
  }
}

function pointOf(bytes: Uint8Array) {
  return decodeStatsKey({ n: 1, k: 1, commitments: [bytesHex(bytes)] }).commitments[0]!
}
