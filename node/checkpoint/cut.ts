import type { Checkpoint, CosignedCheckpoint, FeedCut } from '../core/checkpoint.ts'
import { EMPTY_ROOT } from '../core/merkle/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { IndexView } from '../index/index-view.ts'
import type { LogStore } from '../store/index.ts'
import type { VersionState } from './version-state.ts'

/**
 * This node's view under `version`: every feed it cuts (its members', and removed members'
 * frozen ones) at the size it holds on disk, with
 * its feed root and its index root at that size (the time is taken after the index roots,
 * which may take a while on a first round after a start).
 */
export async function cutOf(
  networkId: Uint8Array,
  version: VersionState,
  store: LogStore,
  index: Pick<IndexView, 'rootAt'>,
): Promise<Checkpoint> {
  // Removed members' feeds too, frozen: every checkpoint keeps covering their entries.
  const origins = version.origins
  const feeds: FeedCut[] = []
  for (const origin of origins) {
    const treeSize = store.size(origin)
    const root = store.latestHead(origin)?.root ?? EMPTY_ROOT
    feeds.push({ origin, treeSize, root, indexRoot: await index.rootAt(origin, treeSize) })
  }
  return { networkId, membership: version.ref, timeMs: Date.now(), feeds }
}

/** Whether a member's feed is not at its size in `latest` (a round has something to cut). */
export function grewSince(
  latest: CosignedCheckpoint | undefined,
  membership: Membership,
  store: Pick<LogStore, 'size'>,
): boolean {
  const feeds = latest?.checkpoint.feeds
  return membership.members.some(
    ({ name }) => feeds?.find((f) => f.origin === name)?.treeSize !== store.size(name),
  )
}

/**
 * Whether this replica holds less of a feed than `latest` covers: a node that adopted a
 * checkpoint before its entries (a joining node catching up, a node back from a stop). A cut
 * of it would be below what the members hold, and they cannot judge one (their index has roots
 * from its current sizes only): it syncs first and proposes after.
 */
export function behindLatest(
  latest: CosignedCheckpoint | undefined,
  store: Pick<LogStore, 'size'>,
): boolean {
  return latest?.checkpoint.feeds.some((f) => store.size(f.origin) < f.treeSize) ?? false
}
