import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { EhrlogError } from '../core/errors.ts'
import { ORIGIN_PATTERN } from '../core/layout.ts'
import { NODE_FILES } from './files.ts'
import { describeSchemaIssue } from './schema-issue.ts'

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))

/**
 * identity.json: the public half of a node, which hospitals exchange to assemble network.json.
 * Parsing checks shapes only; the BLS proof of possession is checked where membership is built.
 */
export const publicIdentitySchema = z.strictObject({
  name: z.string().regex(ORIGIN_PATTERN),
  /** Ed25519 key that signs the node's feed tree heads. */
  ed25519PublicKey: hex(32),
  peerId: z.string().refine((text) => {
    try {
      peerIdFromString(text)
      return true
    } catch {
      return false
    }
  }, 'not a libp2p PeerId'),
  /** Compressed G1 point (48 bytes) that cosigns checkpoints. */
  blsPublicKey: hex(48),
  /** Its proof of possession (96 bytes), which stops rogue-key forgeries of aggregates. */
  blsProofOfPossession: hex(96),
  /** Multiaddrs other nodes dial. */
  addresses: z.array(z.string()),
})

export type PublicIdentity = z.output<typeof publicIdentitySchema>

/** Parses untrusted identity.json content; throws FILE_INVALID naming the field. */
export function parsePublicIdentity(
  value: unknown,
  source: string = NODE_FILES.identity,
): PublicIdentity {
  const result = publicIdentitySchema.safeParse(value)
  if (!result.success) {
    const { field, message } = describeSchemaIssue(result.error)
    throw new EhrlogError('FILE_INVALID', `${source}: ${message}`, {
      details: { field, file: source },
      cause: result.error,
    })
  }
  return result.data
}

/** Reads DIR/identity.json. NOT_INITIALIZED if absent, FILE_INVALID if malformed. */
export async function readPublicIdentity(dir: string): Promise<PublicIdentity> {
  const path = join(dir, NODE_FILES.identity)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EhrlogError('NOT_INITIALIZED', `${path} does not exist; run ehrlog init`, {
        details: { dir },
        cause: err,
      })
    }
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new EhrlogError('FILE_INVALID', `${NODE_FILES.identity} is not valid JSON`, {
      details: { file: NODE_FILES.identity },
      cause: err,
    })
  }
  return parsePublicIdentity(value)
}
