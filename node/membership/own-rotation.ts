import type { KeyObject } from 'node:crypto'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toHex } from '../core/hex.ts'
import { ed25519PrivateKey, ed25519RawPublicKey } from '../core/tree-head.ts'
import type { Membership, MembershipVersion, SignedProposal } from '../core/trust/index.ts'
import type { NodeIdentity } from '../identity/index.ts'
import { installNextKeys } from '../identity/install-keys.ts'
import type { NextKeys } from '../identity/next-keys.ts'
import type { Logger } from '../logger.ts'
import type { AppendItem, Signer } from '../store/index.ts'
import type { MarkerSource, OriginKeys } from './origin-keys.ts'
import { isMarkedRotation, rotationMarkerBody } from './rotation-marker.ts'

/** keys-next.enc as the running node reads it (nextKeysReader), with its sealed text. */
/** The store's append-hold holder name of a lost rotation's hold (holds are kept per holder). */
const OWN_ROTATION_HOLDER = 'own-rotation'

export type LoadedNextKeys = NextKeys & { sealed: string }

export interface OwnRotationOptions {
  self: string
  /** The node folder: rotated keys are installed there as keys.enc and identity.json. */
  dir: string
  live: {
    readonly current: Membership
    readonly history: {
      readonly versions: readonly MembershipVersion[]
      readonly applied: readonly SignedProposal[]
    }
    onChange(listener: (now: Membership, before: Membership) => void): () => void
  }
  originKeys: Pick<OriginKeys, 'erasOf' | 'noteMarker' | 'findMarkers'>
  /** The signer of the own feed: its key is replaced right after the marker is signed. */
  signer: Signer
  /** The node's identity: its keys follow (governance and sessions read them at each use). */
  identity: NodeIdentity
  /** keys.enc's Ed25519 key at start: it signs a marker a crash left unwritten. */
  installedSigningKey: KeyObject
  /** The next keys held now, and reading keys-next.enc again (it may be written while running). */
  next: { current: LoadedNextKeys | undefined; read(): Promise<LoadedNextKeys | undefined> }
  /** The own feed's append (the normal path: fence, store, gossip), with a signer of its own. */
  append(
    items: readonly AppendItem[],
    signer: Signer,
  ): Promise<{ entries: { entry: { seq: number } }[] }>
  store: MarkerSource & {
    holdAppends(origin: string, holder: string, reason: string): void
    releaseAppends(origin: string, holder: string): boolean
  }
  /** Gives checkpoint rounds a BLS secret key (a rotated one, for the versions that list it). */
  addBlsSecretKey(secretKey: Uint8Array): void
  logger: Logger
  /** How often a lost rotation's cut is looked for while appends are held (default 100 ms). */
  pollMs?: number
  /** How soon a marker that could not be appended, or a key not found, is tried again (2 s). */
  retryMs?: number
}

/**
 * A node's own key rotation, on the running node (docs/architecture.md, "A node's own
 * rotation"). When a change rotating this node's keys is applied, it reads keys-next.enc again
 * (`ehrlog keys rotate` may have written it after the start) and:
 * - Ed25519, old key held: appends the rotation marker (rotation-marker.ts) through the own
 *   feed's append path, signed by the old key, and from the instant the store signs that head
 *   signs every later head with the new key (the store encodes and signs batches one at a time,
 *   synchronously, in call order: no batch is signed by the wrong key, and no hold is needed).
 *   Without the new key in the folder it goes on with the old one, which the members accept
 *   until they see a marker, and tries again.
 * - Ed25519, key lost: holds its own appends until the cut (the first checkpoint of the version)
 *   is known, then signs with the new key; without it, the hold stays, named, until it is there.
 * - BLS: the checkpoint rounds get the new key, signing under the versions that list it.
 * - libp2p: the network asks libp2pKeyFor() for the key of the PeerId listed when it applies the
 *   change, restarts its host on it (NetService.rekey) and says so (rekeyed()).
 * Once the version in force lists every key of keys-next.enc, the own feed signs with the
 * new Ed25519 key and the network runs on the new libp2p key, they are installed as keys.enc
 * and identity.json (install-keys.ts).
 */
export class OwnRotation {
  readonly #o: OwnRotationOptions
  #unsubscribe: (() => void) | undefined
  readonly #timers = new Set<NodeJS.Timeout>()
  #stopped = false
  /** Versions whose marker is being appended (one loop each). */
  readonly #marking = new Set<number>()

  constructor(opts: OwnRotationOptions) {
    this.#o = opts
  }

  async start(): Promise<void> {
    const { self, originKeys } = this.#o
    await originKeys.findMarkers(this.#o.store)
    this.#unsubscribe = this.#o.live.onChange((now, before) => {
      void this.#changed(now, before).catch((err: unknown) =>
        this.#o.logger.error({ err: (err as Error).message }, 'own key rotation failed'),
      )
    })
    // Started after a rotation of its key was applied but before its cut.
    const eras = originKeys.erasOf(self)
    const last = eras.at(-1)
    if (last && last.version > 0 && !Number.isFinite(last.after)) {
      if (isMarkedRotation(this.#o.live.history.applied, last.version, self)) {
        const old = [this.#o.installedSigningKey, this.#o.signer.privateKey].find(
          (k) => toHex(ed25519RawPublicKey(k)) === eras.at(-2)?.keyHex,
        )
        if (!old) {
          this.#hold(
            `the Ed25519 key that version ${last.version} rotated out is not in this folder: it must sign the rotation's marker before the new key may sign (restore keys.enc from a backup)`,
          )
          return
        }
        this.#o.signer.privateKey = old
        this.#mark(last.version, last.keyHex)
      } else {
        this.#lost(last.version, last.keyHex)
      }
      return
    }
    await this.#install()
  }

  stop(): void {
    this.#stopped = true
    this.#unsubscribe?.()
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  async #changed(now: Membership, before: Membership): Promise<void> {
    const { self } = this.#o
    const listed = now.byName(self)
    const was = before.byName(self)
    // Not a rotation of this node's keys: removed, or added (admitted with its own keys).
    if (!listed || !was) return
    if (
      listed.ed25519PublicKey === was.ed25519PublicKey &&
      listed.blsPublicKey === was.blsPublicKey
    )
      return await this.#install()
    const next = await this.#reload()
    if (listed.blsPublicKey !== was.blsPublicKey) {
      if (next && next.blsPublicKey === listed.blsPublicKey) {
        this.#o.addBlsSecretKey(next.blsSecretKey)
        this.#o.identity.blsSecretKey = next.blsSecretKey
        this.#o.identity.identity = {
          ...this.#o.identity.identity,
          blsPublicKey: listed.blsPublicKey,
        }
        this.#o.logger.info(
          { version: now.version },
          'checkpoints now cosigned with the new BLS key',
        )
      } else
        this.#o.logger.error(
          { version: now.version },
          `membership version ${now.version} rotated this node's BLS key to one keys-next.enc does not hold: it cosigns nothing under that version until it is installed (ehrlog keys rotate)`,
        )
    }
    if (listed.ed25519PublicKey === was.ed25519PublicKey) return await this.#install()
    if (isMarkedRotation(this.#o.live.history.applied, now.version, self))
      this.#mark(now.version, listed.ed25519PublicKey)
    else this.#lost(now.version, listed.ed25519PublicKey)
  }

  /**
   * Appends the marker of version `version` (which rotated the own key to `keyHex`), signed
   * by the signer's key, and switches the signer to the new key at the instant the store
   * signs the marker's head. Tried again until it is written.
   */
  #mark(version: number, keyHex: string): void {
    if (this.#marking.has(version)) return
    this.#marking.add(version)
    const { self, signer, logger } = this.#o
    let told = false
    const attempt = async (): Promise<void> => {
      if (this.#stopped) return
      if (toHex(ed25519RawPublicKey(signer.privateKey)) === keyHex) return this.#switched(version)
      const next = await this.#nextFor(keyHex)
      if (!next) {
        if (!told)
          logger.error(
            { version },
            `membership version ${version} rotated this node's Ed25519 key to ${keyHex.slice(0, 16)}…, which keys-next.enc does not hold: the feed goes on under the old key until it is installed (the members accept it until they see the rotation's marker)`,
          )
        told = true
        return this.#later(attempt)
      }
      const newKey = ed25519PrivateKey(next.ed25519Seed)
      const old = signer.privateKey
      let signed = false
      // Read by the store exactly once, when it signs the marker's head (synchronously, in
      // append order): from that instant the own feed's signer holds the new key.
      const markerSigner: Signer = {
        origin: self,
        get privateKey() {
          if (!signed) {
            signed = true
            signer.privateKey = newKey
          }
          return old
        },
      }
      const body = rotationMarkerBody(this.#o.live.history.versions[version]!, keyHex)
      try {
        const { entries } = await this.#o.append([{ kind: 'membership', body }], markerSigner)
        const seq = entries[0]!.entry.seq
        this.#o.originKeys.noteMarker({ origin: self, seq, version, id: body.id, key: keyHex })
        logger.info({ version, cut: seq }, 'own feed now signed with the new Ed25519 key')
        this.#switched(version)
      } catch (err) {
        if (signed) {
          // Signed but not written: the store's writes failed, and it takes none until restarted.
          logger.error(
            { version, err: (err as Error).message },
            'the rotation marker was signed but not written: restart the node',
          )
          return
        }
        logger.warn(
          { version, err: (err as Error).message },
          'rotation marker not appended yet; trying again',
        )
        this.#later(attempt)
      }
    }
    void attempt().catch((err: unknown) =>
      logger.error({ err: (err as Error).message }, 'own key rotation failed'),
    )
  }

  /**
   * The libp2p private key of keys-next.enc if its PeerId is `peerId` (a version in force lists
   * it for this node), reading keys-next.enc again if need be; undefined otherwise.
   */
  async libp2pKeyFor(peerId: string): Promise<PrivateKey | undefined> {
    const held = this.#o.next.current
    const next = held?.peerId === peerId ? held : await this.#reload()
    if (next?.peerId !== peerId) return undefined
    const key = privateKeyFromProtobuf(next.libp2pPrivateKey)
    return peerIdFromPrivateKey(key).toString() === peerId ? key : undefined
  }

  /** The network runs on the libp2p key of `peerId`: the identity follows; install if complete. */
  rekeyed(peerId: string): void {
    const { identity, logger } = this.#o
    identity.identity = { ...identity.identity, peerId }
    logger.info({ peerId }, 'network now runs on the rotated libp2p key')
    void this.#install().catch((err: unknown) =>
      logger.error({ err: (err as Error).message }, 'could not install the rotated keys'),
    )
  }

  /** The own feed signs with the new key: governance and sessions too; install if complete. */
  #switched(version: number): void {
    this.#marking.delete(version)
    const { identity, signer } = this.#o
    identity.signingKey = signer.privateKey
    identity.signingPublicKey = ed25519RawPublicKey(signer.privateKey)
    identity.identity = { ...identity.identity, ed25519PublicKey: toHex(identity.signingPublicKey) }
    void this.#install().catch((err: unknown) =>
      this.#o.logger.error({ err: (err as Error).message }, 'could not install the rotated keys'),
    )
  }

  /**
   * A rotation of the own Ed25519 key declared lost: the own feed is held until the cut (the
   * first checkpoint cosigned under `version`) is known, then signed with the new key.
   */
  #lost(version: number, keyHex: string): void {
    const { self, store, logger, originKeys, signer } = this.#o
    this.#hold(`own Ed25519 key rotates at the cut of membership version ${version}`)
    let told = false
    const poll = async (): Promise<void> => {
      if (this.#stopped) return
      const era = originKeys.erasOf(self).at(-1)
      const next = await this.#nextFor(keyHex)
      if (!next && !told) {
        told = true
        const reason = `membership version ${version} rotated this node's Ed25519 key to ${keyHex.slice(0, 16)}…, which keys-next.enc does not hold: install it (ehrlog keys rotate)`
        this.#hold(reason)
        logger.error({ version }, reason)
      }
      if (!next || !era || era.keyHex !== keyHex || !Number.isFinite(era.after))
        return this.#later(poll, this.#o.pollMs ?? 100)
      if (store.size(self) > era.after)
        logger.error(
          { cut: era.after, size: store.size(self) },
          'own feed entries past the cut were signed with the old key: members refuse them',
        )
      signer.privateKey = ed25519PrivateKey(next.ed25519Seed)
      store.releaseAppends(self, OWN_ROTATION_HOLDER)
      logger.info({ version, cut: era.after }, 'own feed now signed with the new key')
      this.#switched(version)
    }
    void poll().catch((err: unknown) =>
      logger.error({ err: (err as Error).message }, 'own key rotation failed'),
    )
  }

  /**
   * Installs keys-next.enc as keys.enc and identity.json once the version in force lists all
   * its keys for this node, the own feed signs with its Ed25519 key and the network runs on
   * its libp2p key (identity.peerId, which rekeyed() moves).
   */
  async #install(): Promise<void> {
    const next = this.#o.next.current
    const listed = this.#o.live.current.byName(this.#o.self)
    if (!next || !listed) return
    const signing = toHex(ed25519RawPublicKey(this.#o.signer.privateKey))
    if (
      listed.ed25519PublicKey !== next.ed25519PublicKey ||
      listed.blsPublicKey !== next.blsPublicKey ||
      listed.peerId !== next.peerId ||
      this.#o.identity.identity.peerId !== next.peerId ||
      signing !== next.ed25519PublicKey
    )
      return
    const { ed25519PublicKey, blsPublicKey, peerId } = next
    if (
      await installNextKeys(this.#o.dir, next.sealed, { ed25519PublicKey, blsPublicKey, peerId })
    ) {
      if (this.#o.next.current === next) this.#o.next.current = undefined
      this.#o.logger.info('rotated keys installed as keys.enc and identity.json')
    }
  }

  /** The next keys if their Ed25519 key is `keyHex`, reading keys-next.enc again if need be. */
  async #nextFor(keyHex: string): Promise<LoadedNextKeys | undefined> {
    const held = this.#o.next.current
    if (held?.ed25519PublicKey === keyHex) return held
    const next = await this.#reload()
    return next?.ed25519PublicKey === keyHex ? next : undefined
  }

  async #reload(): Promise<LoadedNextKeys | undefined> {
    try {
      const next = await this.#o.next.read()
      if (next) this.#o.next.current = next
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'could not read keys-next.enc')
    }
    return this.#o.next.current
  }

  #hold(reason: string): void {
    this.#o.store.holdAppends(this.#o.self, OWN_ROTATION_HOLDER, reason)
  }

  #later(task: () => Promise<void>, ms = this.#o.retryMs ?? 2_000): void {
    if (this.#stopped) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void task().catch((err: unknown) =>
        this.#o.logger.error({ err: (err as Error).message }, 'own key rotation failed'),
      )
    }, ms)
    timer.unref()
    this.#timers.add(timer)
  }
}
