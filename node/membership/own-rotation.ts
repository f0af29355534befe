import type { KeyObject } from 'node:crypto'
import { toHex } from '../core/hex.ts'
import { ed25519RawPublicKey } from '../core/tree-head.ts'
import type { Logger } from '../logger.ts'
import type { Signer } from '../store/index.ts'
import type { MembershipView } from './membership-view.ts'
import type { OriginKeys } from './origin-keys.ts'

export interface OwnRotationOptions {
  self: string
  live: Pick<MembershipView, 'onChange'>
  originKeys: Pick<OriginKeys, 'erasOf'>
  /** The signer of the own feed: its key is replaced at the cut. */
  signer: Signer
  /** The new tree-head key from keys-next.enc, when the folder holds one. */
  nextSigningKey: KeyObject | undefined
  store: {
    size(origin: string): number
    holdAppends(origin: string, holder: string, reason: string): void
    releaseAppends(origin: string, holder: string): void
  }
  logger: Logger
  /** How often the cut is looked for while appends are held (default 100 ms). */
  pollMs?: number
}

/**
 * A node's own Ed25519 rotation (docs/architecture.md, "A network that can change"): when a
 * change that rotates this node's tree-head key is applied, its own feed stops growing (the
 * store holds its appends: clients get UNAVAILABLE and retry) until the cut of that version is
 * known; from there the own feed is signed with the new key from keys-next.enc. Without that
 * key in the folder the hold stays, named, until the admin installs it and restarts: the old
 * key's heads past the cut would be refused by every member. Returns the unsubscribe.
 */
export function followOwnRotation(opts: OwnRotationOptions): () => void {
  const { self, store, logger } = opts
  // Started after a rotation was applied but before its cut was seen: hold until it is.
  const last = opts.originKeys.erasOf(self).at(-1)
  if (last && last.version > 0 && !Number.isFinite(last.after) && opts.nextSigningKey) {
    const key = opts.nextSigningKey
    if (toHex(ed25519RawPublicKey(key)) === last.keyHex)
      holdUntilCut(opts, last.keyHex, key, last.version)
  }
  return opts.live.onChange((now, before) => {
    const next = now.byName(self)?.ed25519PublicKey
    const was = before.byName(self)?.ed25519PublicKey
    // Not a rotation: this node removed, or added (a joining node admitted with its own key).
    if (next === undefined || was === undefined || next === was) return
    const key = opts.nextSigningKey
    if (!key || toHex(ed25519RawPublicKey(key)) !== next) {
      const reason = `membership version ${now.version} rotated this node's Ed25519 key to ${next.slice(0, 16)}…, which keys-next.enc does not hold: install it (ehrlog keys rotate) and restart`
      store.holdAppends(self, 'own-rotation', reason)
      logger.error({ version: now.version }, reason)
      return
    }
    holdUntilCut(opts, next, key, now.version)
  })
}

/** Holds the own feed until the cut of `version` is known, then signs with `key`. */
function holdUntilCut(
  opts: OwnRotationOptions,
  keyHex: string,
  key: KeyObject,
  version: number,
): void {
  const { self, store, logger } = opts
  store.holdAppends(
    self,
    'own-rotation',
    `own Ed25519 key rotates at the cut of membership version ${version}`,
  )
  const timer = setInterval(() => {
    const era = opts.originKeys.erasOf(self).at(-1)
    if (!era || era.keyHex !== keyHex || !Number.isFinite(era.after)) return
    clearInterval(timer)
    if (store.size(self) > era.after)
      logger.error(
        { cut: era.after, size: store.size(self) },
        'own feed entries past the cut were signed with the old key: members refuse them',
      )
    opts.signer.privateKey = key
    store.releaseAppends(self, 'own-rotation')
    logger.info({ version, cut: era.after }, 'own feed now signed with the new key')
  }, opts.pollMs ?? 100)
  timer.unref()
}
