import type { ClassicLevel } from 'classic-level'
import { EhrlogError } from '../core/errors.ts'
import type { FeedState } from './feed-state.ts'
import type { ValueCipher } from './format/value-cipher.ts'

/**
 * What the store's own modules share of an open LogStore: the database, the value cipher and
 * every feed's state. Not exported from node/store/index.ts: other folders read through
 * LogStore's methods and its ScrubView (repair/scrub-view.ts).
 */
export interface StoreAccess {
  db: ClassicLevel<Buffer, Buffer>
  cipher: ValueCipher
  /** For verify's worker threads, which seal nothing: they only open values. */
  valueKey: Uint8Array
  originKey: (origin: string, treeSize: number) => Uint8Array | undefined
  feeds: ReadonlyMap<string, FeedState>
}

const granted = new WeakMap<object, () => StoreAccess>()

/** Called by LogStore's constructor: `access` throws STORE_CLOSED unless the store is open. */
export function grantAccess(store: object, access: () => StoreAccess): void {
  granted.set(store, access)
}

/**
 * The access of an open LogStore, for modules of node/store that are handed the store from
 * outside (checkpoint-log.ts) and for the store's tests. Throws STORE_CLOSED unless it is open.
 */
export function accessOf(store: object): StoreAccess {
  const access = granted.get(store)
  if (!access) throw new EhrlogError('ARGUMENT_INVALID', 'not a LogStore')
  return access()
}
