// The checkpoint and auditor session the query benchmarks answer with (query.ts and the
// kept-store ones through kept-query-service.ts): every feed at the size the store holds,
// cosigned by 3 of the members' BLS keys, and one auditor who never has to sign in again.
import { blsSign } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import { EMPTY_ROOT } from '../../node/core/merkle/index.ts'
import type { Session } from '../../node/query/index.ts'
import type { LogStore } from '../../node/store/index.ts'

/** A checkpoint of `feeds` at the sizes `store` holds, with their index roots (same order). */
export function checkpointOfStore(
  store: LogStore,
  feeds: readonly string[],
  indexRoots: readonly Uint8Array[],
  networkId: Uint8Array,
): Checkpoint {
  return {
    networkId,
    membership: { version: 0, hash: networkId },
    timeMs: Date.now(),
    feeds: feeds.map((origin, i) => ({
      origin,
      treeSize: store.size(origin),
      root: store.latestHead(origin)?.root ?? EMPTY_ROOT,
      indexRoot: indexRoots[i]!,
    })),
  }
}

/** `checkpoint` cosigned by the first 3 of the members' BLS secret keys. */
export function cosignedBy3(checkpoint: Checkpoint, blsKeys: readonly Uint8Array[]) {
  const message = checkpointSigningMessage(checkpoint)
  return aggregateCosignatures(
    checkpoint,
    new Map(blsKeys.slice(0, 3).map((k, i) => [i, blsSign(k, message)])),
    blsKeys.length,
  )
}

/** An auditor's session at `node` that never expires. */
export function auditorSession(node: string): Session {
  return {
    v: 1,
    sub: `audit@${node}`,
    role: 'auditor',
    iss: node,
    sid: '0'.repeat(32),
    iat: 0,
    exp: Number.MAX_SAFE_INTEGER,
    status: 'active',
  }
}
