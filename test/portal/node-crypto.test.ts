import { createPrivateKey, verify as nodeVerify, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { treeHeadMessage } from '../../node/core/layout.ts'
import {
  ed25519PublicKey,
  isTreeHeadSignatureValid,
  signTreeHead,
} from '../../node/core/tree-head.ts'
import { createPublicKey, verify } from '../../node/portal/browser/node-crypto.ts'

// RFC 8032 section 7.1, "Test Vectors for Ed25519", TEST 1 to TEST 3.
const RFC8032_VECTORS = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
]

const bytes = (hex: string) => (hex === '' ? new Uint8Array(0) : fromHex(hex)!)
const PKCS8_PREFIX = '302e020100300506032b657004220420'

/** The key as core/tree-head.ts hands it to node:crypto (SPKI DER), through the shim. */
const shimKey = (raw: Uint8Array) =>
  createPublicKey({
    key: new Uint8Array(ed25519PublicKey(raw).export({ format: 'der', type: 'spki' })),
    format: 'der',
    type: 'spki',
  })

/** S + L: the same signature with a non-canonical S (RFC 8032 section 5.1.7 refuses S >= L). */
function withSPlusL(signature: Uint8Array): Uint8Array {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  const s = BigInt(`0x${toHex(signature.slice(32).reverse())}`) + L
  const out = new Uint8Array(signature)
  for (let i = 0; i < 32; i++) out[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn)
  return out
}

/**
 * The browser bundle's node:crypto: core/tree-head.ts checks tree-head signatures with
 * node:crypto on nodes and with this shim (@noble) in the page. Both must accept and refuse
 * the same signatures.
 */
describe("the browser's Ed25519 verification (node-crypto shim)", () => {
  it('accepts the RFC 8032 section 7.1 vectors, as node:crypto does, and refuses changed ones', () => {
    for (const v of RFC8032_VECTORS) {
      const seed = createPrivateKey({
        key: Buffer.from(PKCS8_PREFIX + v.secret, 'hex'),
        format: 'der',
        type: 'pkcs8',
      })
      // The vectors as written: the secret key signs the message to the stated signature.
      expect(toHex(sign(null, bytes(v.message), seed)), v.name).toBe(v.signature)
      const key = shimKey(bytes(v.publicKey))
      const signature = bytes(v.signature)
      expect(verify(null, bytes(v.message), key, signature), v.name).toBe(true)
      const flipped = new Uint8Array(signature)
      flipped[0]! ^= 1
      expect(verify(null, bytes(v.message), key, flipped), v.name).toBe(false)
      expect(verify(null, new Uint8Array([1, ...bytes(v.message)]), key, signature)).toBe(false)
      // Non-canonical S: refused by both, so page and node agree on what is signed.
      const malleable = withSPlusL(signature)
      expect(verify(null, bytes(v.message), key, malleable), v.name).toBe(false)
      expect(
        nodeVerify(null, bytes(v.message), ed25519PublicKey(bytes(v.publicKey)), malleable),
      ).toBe(false)
    }
  })

  it('checks a signed tree head as core/tree-head.ts does on a node', () => {
    const v = RFC8032_VECTORS[0]!
    const seed = createPrivateKey({
      key: Buffer.from(PKCS8_PREFIX + v.secret, 'hex'),
      format: 'der',
      type: 'pkcs8',
    })
    const root = new Uint8Array(32).fill(9)
    const head = signTreeHead(seed, 'hospital-a', 7, root)
    expect(isTreeHeadSignatureValid(head, bytes(v.publicKey))).toBe(true)
    const key = shimKey(bytes(v.publicKey))
    expect(verify(null, treeHeadMessage('hospital-a', 7, root), key, head.signature)).toBe(true)
    expect(verify(null, treeHeadMessage('hospital-a', 8, root), key, head.signature)).toBe(false)
    expect(verify(null, treeHeadMessage('hospital-b', 7, root), key, head.signature)).toBe(false)
  })
})
