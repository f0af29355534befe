import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import {
  bytesHex,
  checkShare,
  combineDealings,
  combineShares,
  type Dealing,
  type DkgParams,
  type DkgRoundsInput,
  deal,
  dkgRounds,
  hexBytes,
  mod,
  type StatsKey,
  scalarFromBytes,
  scalarToBytes,
  taggedDigest,
} from '../core/stats/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { Logger } from '../logger.ts'
import type { FeedScan } from './feed-scan.ts'
import { decodeStatsKey } from './key-codec.ts'
import type { StatsMessage } from './messages.ts'
import { readSealed, writeSealed } from './sealed-file.ts'
import { openShare, sealShare } from './share-box.ts'

/** What a member holds once the key is made: sealed in its node folder (stats/key-G.sealed). */
export interface MemberKey {
  generation: number
  key: StatsKey
  /** 1..n, the member's index in the generation's membership (its order + 1). */
  index: number
  /** x_j, 32 bytes. */
  share: Uint8Array
  /** The members' nonce seed (elgamal.ts counterNonce), 32 bytes. */
  seed: Uint8Array
  /** The generation's members in index order (member i + 1 is members[i]). */
  members: readonly string[]
}

interface DealingState {
  commitments: string[]
  proof: string
  /** member name -> f_i(j) || seed part, hex. */
  outgoing: Record<string, string>
  /** dealer name -> f_dealer(me) || its seed part, hex (as received; checked when combining). */
  received: Record<string, string>
  /** Dealers this member complained of, and complainers this dealer answered. */
  complained: string[]
  answered: string[]
  /** Made after the dealing window closed (the member was down): it does not deal. */
  late?: boolean
}

interface SealedKey {
  generation: number
  n: number
  k: number
  index: number
  commitments: string[]
  share: string
  seed: string
  /** The qualified dealers (absent in files sealed before the complaint rounds: all n). */
  qualified?: number[]
}

export interface DkgRunnerOptions {
  self: string
  dir: string
  /** The key generation's number: membership version + 1. */
  generation: number
  /** The membership version whose members make this key. */
  membership: Membership
  threshold: number
  /** The rounds' window W (docs/architecture.md, "A key no one holds"; stats.json). */
  windowMs: number
  /** The node's Ed25519 seed (for the share boxes). */
  boxSeed: Uint8Array
  sealKey: Buffer
  scan: FeedScan
  append: (body: unknown) => Promise<void>
  publish: (m: StatsMessage) => Promise<void>
  onKeyMismatch: (origin: string, seq: string) => void
  /** Test faults: a wrong share boxed to `badShareTo`; complaints left unanswered. */
  faults?: { badShareTo?: string; noAnswer?: boolean }
  logger: Logger
}

/**
 * The key generation of one membership version (docs/architecture.md, "Private network
 * statistics", "In running nodes"): each member deals once (its dealing in its feed, its shares
 * boxed to each member on the control topic, resent each tick until that member's key entry is
 * in its feed), complains of a dealer whose share does not check or did not come, answers the
 * complaints against itself with the share in the clear, and once the rounds are decided
 * (dkg-rounds.ts, from the feeds alone) combines the qualified dealers' shares and appends its
 * `dkg-key` entry. A member that is not in the version's list does nothing.
 */
export class DkgRunner {
  #key: MemberKey | undefined
  #state: DealingState | undefined
  readonly #n: number
  readonly #index: number
  readonly #names: string[]

  constructor(private readonly o: DkgRunnerOptions) {
    this.#names = o.membership.members.map((m) => m.name)
    this.#n = this.#names.length
    this.#index = this.#names.indexOf(o.self) + 1
  }

  get generation(): number {
    return this.o.generation
  }

  get membership(): Membership {
    return this.o.membership
  }

  /** False when this node is not a member of the generation's version. */
  get isMember(): boolean {
    return this.#index > 0
  }

  get key(): MemberKey | undefined {
    return this.#key
  }

  /** True once this member has begun the generation (its dealing state is sealed). */
  get started(): boolean {
    return this.#state !== undefined
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

  #keyPath(): string {
    return join(this.o.dir, `key-${this.generation}.sealed`)
  }

  async load(): Promise<void> {
    let sealed = await readSealed<SealedKey>(this.#keyPath(), this.o.sealKey)
    // Generation 1 was sealed as key.sealed before there were generations.
    if (!sealed && this.generation === 1)
      sealed = await readSealed<SealedKey>(join(this.o.dir, 'key.sealed'), this.o.sealKey)
    if (sealed && sealed.generation === this.generation) {
      this.#key = {
        generation: sealed.generation,
        key: decodeStatsKey(sealed),
        index: sealed.index,
        share: hexBytes(sealed.share),
        seed: hexBytes(sealed.seed),
        members: this.#names,
      }
      this.#qualified = sealed.qualified ?? Array.from({ length: sealed.n }, (_, i) => i + 1)
    }
    this.#state = await readSealed<DealingState>(this.#statePath(), this.o.sealKey)
    if (this.#state) {
      this.#state.complained ??= []
      this.#state.answered ??= []
    }
  }

  /** The generation's entries as dkg-rounds.ts reads them (origins as member indexes). */
  #roundsInput(): DkgRoundsInput {
    const seen = this.o.scan.dkgOf(this.generation)
    const member = (origin: string) => this.#names.indexOf(origin) + 1
    return {
      dealings: seen.dealings.map((d) => ({
        member: member(d.origin),
        recordedMs: d.recordedMs,
        dealing: {
          dealer: d.body.dealer,
          commitments: d.body.commitments.map(hexBytes),
          proof: hexBytes(d.body.proof),
        },
      })),
      complaints: seen.complaints.map((c) => ({
        member: member(c.origin),
        recordedMs: c.recordedMs,
        dealer: c.body.dealer,
        complainer: c.body.complainer,
      })),
      answers: seen.answers.map((a) => ({
        member: member(a.origin),
        recordedMs: a.recordedMs,
        dealer: a.body.dealer,
        complainer: a.body.complainer,
        share: hexBytes(a.body.share),
      })),
    }
  }

  /** One step: deal, send shares, complain, answer, combine once decided. */
  async tick(now = Date.now()): Promise<void> {
    if (!this.isMember) return
    const { scan, self } = this.o
    const W = this.o.windowMs
    let rounds = dkgRounds(this.params, W, this.#roundsInput(), now)
    if (!this.#state) {
      const out = deal(this.params, this.#index)
      const seedPart = crypto.getRandomValues(new Uint8Array(32))
      const outgoing: Record<string, string> = {}
      this.#names.forEach((name, i) => {
        outgoing[name] = bytesHex(out.shares.get(i + 1)!) + bytesHex(seedPart)
      })
      this.#state = {
        commitments: out.dealing.commitments.map(bytesHex),
        proof: bytesHex(out.dealing.proof),
        outgoing,
        received: { [self]: outgoing[self]! },
        complained: [],
        answered: [],
        ...(rounds.phase !== 'dealing' && rounds.t0 !== undefined && now > rounds.t0 + W
          ? { late: true }
          : {}),
      }
      // Sealed before the dealing is published, so a restart deals the same polynomial.
      await writeSealed(this.#statePath(), this.o.sealKey, this.#state)
    }
    const state = this.#state
    if (!state.late && !scan.dealingOf(self, this.generation)) {
      await this.o.append({
        type: 'dkg-dealing',
        generation: this.generation,
        n: this.#n,
        k: this.o.threshold,
        dealer: this.#index,
        commitments: state.commitments,
        proof: state.proof,
      })
      return
    }
    if (!state.late) await this.#sendShares()
    rounds = dkgRounds(this.params, W, this.#roundsInput(), now)
    if (rounds.phase === 'open') {
      if (now <= rounds.complainBy) await this.#complain(rounds.dealings, rounds.t0, now)
    }
    if (rounds.phase !== 'dealing' && now <= rounds.t0 + 3 * W) await this.#answer()
    if (rounds.phase === 'decided' && !this.#key) await this.#combine(rounds.qualified)
    if (this.#key && !scan.keyOf(self, this.generation)) {
      await this.o.append({
        type: 'dkg-key',
        generation: this.generation,
        n: this.#n,
        k: this.o.threshold,
        qualified: this.#qualified,
        commitments: this.#key.key.commitments.map((c) => bytesHex(c.toBytes())),
      })
    }
    this.#checkOthersKeys()
  }

  #qualified: number[] = []

  async #sendShares(): Promise<void> {
    const { scan, self, membership } = this.o
    for (const m of membership.members) {
      if (m.name === self || scan.keyOf(m.name, this.generation)) continue
      let plain = hexBytes(this.#state!.outgoing[m.name]!)
      if (this.o.faults?.badShareTo === m.name) {
        plain = plain.slice()
        plain.set(scalarToBytes(mod(scalarFromBytes(plain.subarray(0, 32))! + 1n)), 0)
      }
      const box = sealShare(
        this.o.boxSeed,
        hexBytes(m.ed25519PublicKey),
        { networkId: membership.networkId, generation: this.generation, dealer: self, to: m.name },
        plain,
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
  }

  /** Complaints of dealers whose share fails its check, or has not come 1.5 W after t0. */
  async #complain(dealings: readonly Dealing[], t0: number, now: number): Promise<void> {
    const state = this.#state!
    for (const dealing of dealings) {
      const name = this.#names[dealing.dealer - 1]!
      if (dealing.dealer === this.#index || state.complained.includes(name)) continue
      const received = state.received[name]
      let bad: string | undefined
      if (received === undefined) {
        if (now >= t0 + 1.5 * this.o.windowMs) bad = 'never came'
      } else {
        let ok = false
        try {
          ok = checkShare(this.params, dealing, this.#index, hexBytes(received).subarray(0, 32))
        } catch {
          continue // a dealing that does not verify is left out by everyone: no complaint needed
        }
        if (!ok) bad = 'does not match its commitments'
      }
      if (!bad) continue
      this.o.logger.warn({ dealer: name }, `the DKG share from this dealer ${bad}: complaining`)
      state.complained.push(name)
      await writeSealed(this.#statePath(), this.o.sealKey, state)
      await this.o.append({
        type: 'dkg-complaint',
        generation: this.generation,
        dealer: dealing.dealer,
        complainer: this.#index,
      })
    }
  }

  /** Answers each complaint against this dealer: the share in the clear, the seed part boxed. */
  async #answer(): Promise<void> {
    const state = this.#state!
    if (this.o.faults?.noAnswer || state.late) return
    for (const c of this.o.scan.dkgOf(this.generation).complaints) {
      const complainer = this.#names[c.body.complainer - 1]
      if (c.body.dealer !== this.#index || c.origin !== complainer) continue
      if (state.answered.includes(complainer)) continue
      const plain = hexBytes(state.outgoing[complainer]!)
      const to = this.o.membership.byName(complainer)!
      const box = sealShare(
        this.o.boxSeed,
        hexBytes(to.ed25519PublicKey),
        answerBoxContext(this.o.membership.networkId, this.generation, this.o.self, complainer),
        plain.subarray(32),
      )
      state.answered.push(complainer)
      await writeSealed(this.#statePath(), this.o.sealKey, state)
      await this.o.append({
        type: 'dkg-answer',
        generation: this.generation,
        dealer: this.#index,
        complainer: c.body.complainer,
        share: bytesHex(plain.subarray(0, 32)),
        box: bytesHex(box),
      })
      this.o.logger.info({ complainer }, 'answered a DKG complaint with the share in the clear')
    }
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

  /** The share and seed part from each qualified dealer: an answer to this member if any. */
  async #combine(qualified: readonly Dealing[]): Promise<void> {
    const state = this.#state!
    const shares: Uint8Array[] = []
    const seedParts: Uint8Array[] = []
    const answers = this.o.scan.dkgOf(this.generation).answers
    for (const dealing of qualified) {
      const name = this.#names[dealing.dealer - 1]!
      const answer = answers.find(
        (a) =>
          a.origin === name && a.body.complainer === this.#index && state.complained.includes(name),
      )
      if (answer) {
        const dealer = this.o.membership.byName(name)!
        shares.push(hexBytes(answer.body.share))
        seedParts.push(
          openShare(
            this.o.boxSeed,
            hexBytes(dealer.ed25519PublicKey),
            answerBoxContext(this.o.membership.networkId, this.generation, name, this.o.self),
            hexBytes(answer.body.box),
          ),
        )
        continue
      }
      const received = state.received[name]
      if (!received) return // not here yet (this member was down): resent each tick
      const bytes = hexBytes(received)
      if (!checkShare(this.params, dealing, this.#index, bytes.subarray(0, 32))) {
        this.o.logger.error(
          { dealer: name },
          'the DKG share from a qualified dealer does not check and the complaint window is closed: no key share',
        )
        return
      }
      shares.push(bytes.subarray(0, 32))
      seedParts.push(bytes.subarray(32))
    }
    const key = combineDealings(this.params, qualified)
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
      qualified: qualified.map((d) => d.dealer),
    }
    await writeSealed(this.#keyPath(), this.o.sealKey, sealed)
    this.#qualified = qualified.map((d) => d.dealer)
    this.#key = {
      generation: this.generation,
      key,
      index: this.#index,
      share,
      seed,
      members: this.#names,
    }
    this.o.logger.info(
      { generation: this.generation, n: key.n, k: key.k, qualified: this.#qualified },
      'statistics key made',
    )
  }

  readonly #reported = new Set<string>()

  #checkOthersKeys(): void {
    if (!this.#key) return
    const mine = this.#key.key.commitments.map((c) => bytesHex(c.toBytes())).join()
    for (const name of this.#names) {
      const theirs = this.o.scan.keyOf(name, this.generation)
      if (!theirs || theirs.commitments.join() === mine || this.#reported.has(name)) continue
      this.#reported.add(name)
      this.o.onKeyMismatch(name, String(this.generation))
    }
  }
}

/** An answer's seed-part box is bound to its use: "answer" in the recipient field. */
function answerBoxContext(networkId: string, generation: number, dealer: string, to: string) {
  return { networkId, generation, dealer, to: `${to}\u0000answer` }
}
