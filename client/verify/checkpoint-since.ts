import { readFile } from 'node:fs/promises'
import { type CosignedCheckpoint, cosignedFromJson } from '../../node/core/checkpoint.ts'
import {
  type ConsistencyAnswerJson,
  type ConsistencyVerdict,
  consistencyFromOf,
  verifyConsistencyAnswer,
} from '../../node/core/consistency-answer.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import {
  type Membership,
  MembershipHistory,
  verifyCheckpoint,
} from '../../node/core/trust/index.ts'
import { checkpointKeysOf } from '../../node/core/trust/network-keys.ts'
import { answerConsistency } from '../../node/query/index.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, type NodeEndpoint } from '../node-client.ts'

/**
 * A checkpoint the user kept: `ehrlog checkpoint --json` output (`{cosigned}`) or a bare
 * cosigned checkpoint. Verified against the user's membership before anything is asked.
 */
export async function readKeptCheckpoint(
  file: string,
  membership: Membership | MembershipHistory,
): Promise<CosignedCheckpoint> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `${file} is not a readable JSON checkpoint`, { cause })
  }
  const json = (value as { cosigned?: unknown })?.cosigned ?? value
  let kept: CosignedCheckpoint
  try {
    kept = cosignedFromJson(json)
  } catch (cause) {
    throw new EhrlogError(
      'FILE_INVALID',
      `${file} holds no cosigned checkpoint (${(cause as Error).message}): keep the output of \`ehrlog checkpoint --json\``,
      { cause },
    )
  }
  verifyCheckpoint(membership, kept) // INVALID_SIGNATURE: it was never the network's
  return kept
}

/**
 * Asks a node (or a stopped node's folder) for consistency proofs from `kept` to its latest
 * checkpoint and checks them here: INVALID_PROOF naming the origin if history was rewritten.
 */
export async function checkSince(
  ctx: CliContext,
  kept: CosignedCheckpoint,
  membership: Membership | MembershipHistory,
  source: { endpoint: NodeEndpoint } | { dir: string },
): Promise<ConsistencyVerdict> {
  const from = consistencyFromOf(kept)
  const answer =
    'endpoint' in source
      ? await callNode<ConsistencyAnswerJson>(
          { url: source.endpoint.url, token: undefined },
          'GET',
          `/api/v1/checkpoint/consistency?from=${encodeURIComponent(from)}`,
        )
      : await withLocalNode(ctx, source.dir, async ({ store }) => {
          const latest = await new CheckpointLog(store).latest()
          return answerConsistency({ store, checkpoints: { latest: () => latest } }, from)
        })
  // The latest checkpoint may name a newer membership version than the kept one: its keys.
  let keys = membership instanceof MembershipHistory ? membership.current.keys : membership.keys
  if (membership instanceof MembershipHistory) {
    const named = (answer as { cosigned?: unknown } | null)?.cosigned
    const ref = named === undefined ? undefined : tryRef(named)
    if (ref) keys = membership.keysFor(ref)
  }
  return verifyConsistencyAnswer(kept, answer, checkpointKeysOf(keys))
}

/** The membership version a checkpoint on the wire names, if it parses (verified after). */
function tryRef(json: unknown): CosignedCheckpoint['checkpoint']['membership'] | undefined {
  try {
    return cosignedFromJson(json).checkpoint.membership
  } catch {
    return undefined
  }
}

/** One line per origin: how its feed grew since the kept checkpoint. */
export function describeConsistency(kept: CosignedCheckpoint, v: ConsistencyVerdict): string {
  const since = new Date(kept.checkpoint.timeMs).toISOString()
  const lines = v.origins.map(
    (o) => `  ${o.origin}: ${o.fromSize} → ${o.toSize} (RFC 9162 consistency proof checked)`,
  )
  return `consistent: every feed of your checkpoint of ${since} is a prefix of the latest\n${lines.join('\n')}`
}
