import { z } from 'zod'
import { isEhrlogError } from '../../core/errors.ts'
import {
  Membership,
  type NetworkKeys,
  networkIdOf,
  shortNetworkId,
} from '../../core/trust/index.ts'

/** Why the served membership cannot be used: nothing on the page may then show as verified. */
export class UntrustedNetwork extends Error {}

const servedSchema = z.object({
  networkId: z.string().regex(/^[0-9a-f]{64}$/),
  networkJson: z.object({}).passthrough(),
})

/**
 * Parses what `GET /api/v1/network` answered (untrusted): recomputes the network id from the
 * served network.json, which must be the id the node named, and parses the file as the nodes
 * do (Membership: shapes, and each member's BLS proof of possession, which stops rogue-key
 * aggregates). Throws UntrustedNetwork saying what is wrong.
 */
export function trustedNetworkOf(served: unknown): NetworkKeys {
  const parsed = servedSchema.safeParse(served)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UntrustedNetwork(
      `the node's network.json is malformed: ${issue?.path.join('.') || 'the answer'} ${issue?.message ?? ''}`,
    )
  }
  const { networkId } = parsed.data
  // The file as served, every field: zod's parse above may drop some.
  const file = (served as { networkJson: unknown }).networkJson
  let computed: string
  try {
    computed = networkIdOf(file)
  } catch (err) {
    throw new UntrustedNetwork(
      `the node's network.json cannot be hashed: ${(err as Error).message}`,
    )
  }
  if (computed !== networkId)
    throw new UntrustedNetwork(
      `the node's network.json hashes to ${shortNetworkId(computed)}, not to the network id ${shortNetworkId(networkId)} it names`,
    )
  try {
    return Membership.fromJson(file).keys
  } catch (err) {
    if (isEhrlogError(err, 'CONFIG_INVALID')) throw new UntrustedNetwork(err.message)
    throw err
  }
}
