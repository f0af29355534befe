import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { treeHeadMessage } from '../../node/core/layout.ts'
import {
  ed25519PrivateKey,
  ed25519RawPublicKey,
  isTreeHeadSignatureValid,
  signEd25519,
  signTreeHead,
  verifyEd25519,
  verifyTreeHead,
} from '../../node/core/tree-head.ts'

/**
 * RFC 8032 §7.1 "Test Vectors for Ed25519", TEST 1, TEST 2, TEST 3 and TEST SHA(abc), copied
 * from https://www.rfc-editor.org/rfc/rfc8032#section-7.1 (SECRET KEY is the 32-byte seed).
 */
const RFC8032_7_1 = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155' +
      '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac' +
      '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
      '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589' +
      '09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
] as const

const bytes = (hex: string) => fromHex(hex) as Uint8Array

describe('Ed25519 behind tree heads, against RFC 8032 §7.1', () => {
  for (const v of RFC8032_7_1) {
    it(`${v.name}: the key, the signature, and the verifying call tree heads use`, () => {
      const privateKey = ed25519PrivateKey(bytes(v.secretKey))
      expect(toHex(ed25519RawPublicKey(privateKey))).toBe(v.publicKey)
      expect(toHex(signEd25519(privateKey, bytes(v.message)))).toBe(v.signature)
      expect(verifyEd25519(bytes(v.publicKey), bytes(v.message), bytes(v.signature))).toBe(true)

      // Any flipped bit of the signature or message, a truncated signature, or another key: refused.
      const signature = bytes(v.signature)
      for (const at of [0, 31, 32, 63]) {
        const flipped = signature.slice()
        flipped[at]! ^= 1
        expect(verifyEd25519(bytes(v.publicKey), bytes(v.message), flipped)).toBe(false)
      }
      const longer = Uint8Array.of(...bytes(v.message), 0)
      expect(verifyEd25519(bytes(v.publicKey), longer, signature)).toBe(false)
      expect(verifyEd25519(bytes(v.publicKey), bytes(v.message), signature.subarray(0, 63))).toBe(
        false,
      )
      const other = RFC8032_7_1.find((w) => w.publicKey !== v.publicKey)!
      expect(verifyEd25519(bytes(other.publicKey), bytes(v.message), signature)).toBe(false)
    })
  }

  it('a tree head is the same Ed25519 over treeHeadMessage (RFC 8032 TEST 1 key)', () => {
    const v = RFC8032_7_1[0]
    const privateKey = ed25519PrivateKey(bytes(v.secretKey))
    const root = new Uint8Array(32).fill(7)
    const head = signTreeHead(privateKey, 'hospital-a', 3, root)
    const message = treeHeadMessage('hospital-a', 3, root)
    expect(head.signature).toEqual(signEd25519(privateKey, message))
    expect(verifyEd25519(bytes(v.publicKey), message, head.signature)).toBe(true)
    expect(isTreeHeadSignatureValid(head, bytes(v.publicKey))).toBe(true)
    expect(() => verifyTreeHead(head, bytes(v.publicKey))).not.toThrow()
    expect(isTreeHeadSignatureValid({ ...head, treeSize: 4 }, bytes(v.publicKey))).toBe(false)
    expect(() => verifyTreeHead({ ...head, origin: 'hospital-b' }, bytes(v.publicKey))).toThrow(
      /not signed by its origin's key/,
    )
    expect(isTreeHeadSignatureValid(head, bytes(RFC8032_7_1[1].publicKey))).toBe(false)
  })
})
