import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import {
  bytesHex,
  checkShare,
  combineDealings,
  combineShares,
  type Dealing,
  type DkgParams,
  deal,
  hexBytes,
  type StatsKey,
  taggedDigest,
  verifyDealing,
} from '../core/stats/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { Logger } from '../logger.ts'
import type { FeedScan } from './feed-scan.ts'
import { decodeStatsKey } from './key-codec.ts'
import type { StatsMessage } from './messages.ts'
import { readSealed, writeSealed } from './sealed-file.ts'
import { openShare, sealShare } from './share-box.ts'

/** What a member holds once the key is made: sealed in its node folder (stats/key.sealed). */
export interface MemberKey {
  generation: number
  key: StatsKey
  /** 1..n, the member's index (network.json order + 1). */
  index: number
  /** x_j, 32 bytes. */
  share: Uint8Array
  /** The members' nonce seed (elgamal.ts counterNonce), 32 bytes. */
  seed: Uint8Array
}

interface DealingState {
  commitments: string[]
  proof: string
  /** member name -> f_i(j) || seed part, hex. */
  outgoing: Record<string, string>
  /** dealer name -> f_dealer(me) || its seed part, hex. */
  received: Record<string, string>
}

interface SealedKey {
  generation: number
  n: number
  k: number
  index: number
  commitments: string[]
  share: string
  seed: string
}

export interface DkgRunnerOptions {
  self: string
  dir: string
  membership: Membership
  threshold: number
  /** The node's Ed25519 seed (for the share boxes). */
  boxSeed: Uint8Array
  sealKey: Buffer
  scan: FeedScan
  append: (body: unknown) => Promise<void>
  publish: (m: StatsMessage) => Promise<void>
  onKeyMismatch: (origin: string, seq: string) => void
  logger: Logger
}

/**
 * The key generation of one membership (docs/architecture.md, "Private network statistics",
 * "Wiring"): each member deals once (its dealing in its feed, its shares boxed to each member
 * on the control topic, resent each tick until that member's key entry is in its feed), and
 * combines once it holds all n dealings and n shares that check; then it appends its `dkg-key`
 * entry. Generation 1 for the network.json of today; a membership change would start the next
 * generation (docs/architecture.md, "Re-keying on a membership change").
 */
export class DkgRunner {
  readonly generation = 1
  #key: MemberKey | undefined
  #state: DealingState | undefined
  readonly #n: number
  readonly #index: number

  constructor(private readonly o: DkgRunnerOptions) {
    this.#n = o.membership.members.length
    this.#index = o.membership.members.findIndex((m) => m.name === o.self) + 1
  }

  get key(): MemberKey | undefined {
    return this.#key
  }

  get params(): DkgParams {
    return {
      n: this.#n,
      k: this.o.threshold,
      context: new TextEncoder().encode(`${this.o.membership.networkId}/${this.generation}`),
    }
  }

  #statePath(): string {
    return join(this.o.dir, `dkg-${this.generation}.sealed`)
  }

  async load(): Promise<void> {
    const sealed = await readSealed<SealedKey>(join(this.o.dir, 'key.sealed'), this.o.sealKey)
    if (sealed && sealed.generation === this.generation) {
      this.#key = {
        generation: sealed.generation,
        key: decodeStatsKey(sealed),
        index: sealed.index,
        share: hexBytes(sealed.share),
        seed: hexBytes(sealed.seed),
      }
    }
    this.#state = await readSealed<DealingState>(this.#statePath(), this.o.sealKey)
  }

  /** One step: deal if not yet, send shares, combine when everything is in. */
  async tick(): Promise<void> {
    const { scan, self, membership } = this.o
    if (!this.#state) {
      const out = deal(this.params, this.#index)
      const seedPart = crypto.getRandomValues(new Uint8Array(32))
      const outgoing: Record<string, string> = {}
      membership.members.forEach((m, i) => {
        outgoing[m.name] = bytesHex(out.shares.get(i + 1)!) + bytesHex(seedPart)
      })
      this.#state = {
        commitments: out.dealing.commitments.map(bytesHex),
        proof: bytesHex(out.dealing.proof),
        outgoing,
        received: { [self]: outgoing[self]! },
      }
      // Sealed before the dealing is published, so a restart deals the same polynomial.
      await writeSealed(this.#statePath(), this.o.sealKey, this.#state)
    }
    if (!scan.dealingOf(self, this.generation)) {
      await this.o.append({
        type: 'dkg-dealing',
        generation: this.generation,
        n: this.#n,
        k: this.o.threshold,
        dealer: this.#index,
        commitments: this.#state.commitments,
        proof: this.#state.proof,
      })
      return
    }
    for (const m of membership.members) {
      if (m.name === self || scan.keyOf(m.name, this.generation)) continue
      const box = sealShare(
        this.o.boxSeed,
        hexBytes(m.ed25519PublicKey),
        { networkId: membership.networkId, generation: this.generation, dealer: self, to: m.name },
        hexBytes(this.#state.outgoing[m.name]!),
      )
      await this.o.publish({
        type: 'dkg-share',
        from: self,
        generation: this.generation,
        dealer: this.#index,
        to: m.name,
        box: bytesHex(box),
      })
    }
    if (!this.#key) await this.#combine()
    if (this.#key && !scan.keyOf(self, this.generation)) {
      await this.o.append({
        type: 'dkg-key',
        generation: this.generation,
        n: this.#n,
        k: this.o.threshold,
        qualified: Array.from({ length: this.#n }, (_, i) => i + 1),
        commitments: this.#key.key.commitments.map((c) => bytesHex(c.toBytes())),
      })
    }
    this.#checkOthersKeys()
  }

  /** A dkg-share message addressed to this node. */
  async receive(m: Extract<StatsMessage, { type: 'dkg-share' }>): Promise<void> {
    if (m.to !== this.o.self || m.generation !== this.generation || !this.#state) return
    if (this.#state.received[m.from] !== undefined) return
    const dealer = this.o.membership.byName(m.from)
    if (!dealer) return
    const plain = openShare(
      this.o.boxSeed,
      hexBytes(dealer.ed25519PublicKey),
      {
        networkId: this.o.membership.networkId,
        generation: m.generation,
        dealer: m.from,
        to: m.to,
      },
      hexBytes(m.box),
    )
    if (plain.length !== 64)
      throw new EhrlogError('MESSAGE_INVALID', `the share from ${m.from} is not 64 bytes`)
    this.#state.received[m.from] = bytesHex(plain)
    await writeSealed(this.#statePath(), this.o.sealKey, this.#state)
  }

  async #combine(): Promise<void> {
    const { scan, membership } = this.o
    const state = this.#state!
    const dealings: Dealing[] = []
    const shares: Uint8Array[] = []
    const seedParts: Uint8Array[] = []
    for (const m of membership.members) {
      const body = scan.dealingOf(m.name, this.generation)
      const received = state.received[m.name]
      if (!body || !received) return // not everything is in yet
      const dealing: Dealing = {
        dealer: body.dealer,
        commitments: body.commitments.map(hexBytes),
        proof: hexBytes(body.proof),
      }
      verifyDealing(this.params, dealing)
      const bytes = hexBytes(received)
      if (!checkShare(this.params, dealing, this.#index, bytes.subarray(0, 32))) {
        // A complaint round is not built (docs/architecture.md, "Private network statistics"): the key generation waits.
        this.o.logger.error(
          { dealer: m.name },
          'the DKG share from this dealer does not match its commitments',
        )
        delete state.received[m.name]
        return
      }
      dealings.push(dealing)
      shares.push(bytes.subarray(0, 32))
      seedParts.push(bytes.subarray(32))
    }
    const key = combineDealings(this.params, dealings)
    const share = combineShares(shares)
    const seed = taggedDigest('ehrlog/stats-seed/v1', ...seedParts)
    const sealed: SealedKey = {
      generation: this.generation,
      n: key.n,
      k: key.k,
      index: this.#index,
      commitments: key.commitments.map((c) => bytesHex(c.toBytes())),
      share: bytesHex(share),
      seed: bytesHex(seed),
    }
    await writeSealed(join(this.o.dir, 'key.sealed'), this.o.sealKey, sealed)
    this.#key = { generation: this.generation, key, index: this.#index, share, seed }
    this.o.logger.info({ n: key.n, k: key.k }, 'statistics key made')
  }

  readonly #reported = new Set<string>()

  #checkOthersKeys(): void {
    if (!this.#key) return
    const mine = this.#key.key.commitments.map((c) => bytesHex(c.toBytes())).join()
    for (const m of this.o.membership.members) {
      const theirs = this.o.scan.keyOf(m.name, this.generation)
      if (!theirs || theirs.commitments.join() === mine || this.#reported.has(m.name)) continue
      this.#reported.add(m.name)
      this.o.onKeyMismatch(m.name, String(this.generation))
    }
  }
}
