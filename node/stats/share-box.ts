import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { EhrlogError } from '../core/errors.ts'

/*
 * A DKG share sealed to one member (docs/protocol.md, "Statistics"): X25519 between the dealer's
 * and the recipient's Ed25519 keys of network.json (converted to Montgomery form, RFC 7748),
 * HKDF-SHA256 with info "ehrlog/stats-dkg-share/v1", AES-256-GCM with a random 12-byte IV and
 * the associated data networkId || generation || dealer || recipient. Static-static: only the
 * dealer or the recipient can make a box that opens, so the box also authenticates the dealer.
 * Box: iv || ciphertext || tag.
 */

function boxKey(mySeed: Uint8Array, theirPublic: Uint8Array): Buffer {
  const secret = x25519.getSharedSecret(
    ed25519.utils.toMontgomerySecret(mySeed),
    ed25519.utils.toMontgomery(theirPublic),
  )
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), 'ehrlog/stats-dkg-share/v1', 32))
}

function aad(networkId: string, generation: number, dealer: string, to: string): Buffer {
  return Buffer.from(`${networkId}\u0000${generation}\u0000${dealer}\u0000${to}`)
}

export function sealShare(
  mySeed: Uint8Array,
  theirPublic: Uint8Array,
  ctx: { networkId: string; generation: number; dealer: string; to: string },
  plain: Uint8Array,
): Uint8Array {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', boxKey(mySeed, theirPublic), iv)
  cipher.setAAD(aad(ctx.networkId, ctx.generation, ctx.dealer, ctx.to))
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()])
}

export function openShare(
  mySeed: Uint8Array,
  theirPublic: Uint8Array,
  ctx: { networkId: string; generation: number; dealer: string; to: string },
  box: Uint8Array,
): Uint8Array {
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      boxKey(mySeed, theirPublic),
      box.subarray(0, 12),
    )
    decipher.setAAD(aad(ctx.networkId, ctx.generation, ctx.dealer, ctx.to))
    decipher.setAuthTag(box.subarray(box.length - 16))
    return new Uint8Array(
      Buffer.concat([decipher.update(box.subarray(12, box.length - 16)), decipher.final()]),
    )
  } catch {
    throw new EhrlogError('MESSAGE_INVALID', `the share box from ${ctx.dealer} does not open`)
  }
}
