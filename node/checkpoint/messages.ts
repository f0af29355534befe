import {
  type Checkpoint,
  type CosignedCheckpoint,
  checkpointFromJson,
  cosignedFromJson,
  cosignedToJson,
} from '../core/checkpoint.ts'
import { EhrlogError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/hex.ts'

/** Messages of a checkpoint round on the member-only control topic (docs/protocol.md). */
export type CheckpointMessage =
  | { type: 'propose'; checkpoint: Checkpoint; signer: number; signature: Uint8Array }
  | { type: 'cosign'; id: string; signer: number; signature: Uint8Array }
  | { type: 'cosigned'; cosigned: CosignedCheckpoint }

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeCheckpointMessage(m: CheckpointMessage): Uint8Array {
  switch (m.type) {
    case 'propose':
      return utf8.encode(
        JSON.stringify({
          type: m.type,
          checkpoint: cosignedToJson({
            checkpoint: m.checkpoint,
            signers: new Uint8Array(0),
            signature: new Uint8Array(96),
          }).checkpoint,
          signer: m.signer,
          signature: toHex(m.signature),
        }),
      )
    case 'cosign':
      return utf8.encode(
        JSON.stringify({ type: m.type, id: m.id, signer: m.signer, signature: toHex(m.signature) }),
      )
    case 'cosigned':
      return utf8.encode(JSON.stringify({ type: m.type, cosigned: cosignedToJson(m.cosigned) }))
  }
}

function bad(message: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `checkpoint message: ${message}`)
}

/** Parses an untrusted control message; throws MESSAGE_INVALID naming what is wrong. */
export function decodeCheckpointMessage(data: Uint8Array): CheckpointMessage {
  let value: Record<string, unknown>
  try {
    value = JSON.parse(utf8Decoder.decode(data)) as Record<string, unknown>
  } catch {
    throw bad('not UTF-8 JSON')
  }
  if (typeof value !== 'object' || value === null) throw bad('not an object')
  const signer = value.signer
  const signature = typeof value.signature === 'string' ? fromHex(value.signature, 96) : undefined
  const withSigner = () => {
    if (!Number.isSafeInteger(signer) || (signer as number) < 0)
      throw bad('signer is not a member index')
    if (!signature) throw bad('signature is not 96 bytes of hex')
    return { signer: signer as number, signature }
  }
  switch (value.type) {
    case 'propose':
      return { type: 'propose', checkpoint: checkpointFromJson(value.checkpoint), ...withSigner() }
    case 'cosign':
      if (typeof value.id !== 'string' || !fromHex(value.id, 32))
        throw bad('id is not a checkpoint id')
      return { type: 'cosign', id: value.id, ...withSigner() }
    case 'cosigned':
      return { type: 'cosigned', cosigned: cosignedFromJson(value.cosigned) }
    default:
      throw bad(`unknown type ${JSON.stringify(value.type)}`)
  }
}
