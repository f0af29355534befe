import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import {
  answersHashOf,
  type BundleManifest,
  bundleManifestMessage,
  isBundleSignatureValid,
  signBundleManifest,
} from '../../node/core/bundle-manifest.ts'
import { toHex } from '../../node/core/hex.ts'

describe('bundle manifests: what an exporting account signs', () => {
  const seed = new Uint8Array(32).fill(7)
  const publicKey = toHex(ed25519.getPublicKey(seed))
  const manifest: BundleManifest = {
    createdAt: '2026-01-02T03:04:05.000Z',
    createdBy: 'audit@hospital-a',
    networkId: 'ab'.repeat(32),
    filter: { patient: 'MRN-1' },
    scope: {},
    cursor: null,
    pages: 2,
    entries: 3,
    end: 'complete',
    max: 10000,
    answersHash: answersHashOf([{ entries: [1] }, { entries: [2, 3] }]),
  }

  it('signs the tag, a zero byte and the RFC 8785 JSON of the manifest', () => {
    const text = new TextDecoder().decode(bundleManifestMessage(manifest))
    expect(text.startsWith('ehrlog/bundle/v1\0{"answersHash":"')).toBe(true)
    expect(text).toContain(
      '"cursor":null,"end":"complete","entries":3,"filter":{"patient":"MRN-1"}',
    )
    const signature = signBundleManifest(manifest, seed)
    expect(
      isBundleSignatureValid(manifest, { username: 'audit@hospital-a', publicKey, signature }),
    ).toBe(true)
  })

  it('fails for a changed page count, answers, user, key or signature', () => {
    const signature = signBundleManifest(manifest, seed)
    const sig = { username: 'audit@hospital-a', publicKey, signature }
    expect(isBundleSignatureValid({ ...manifest, pages: 1 }, sig)).toBe(false)
    expect(
      isBundleSignatureValid({ ...manifest, answersHash: answersHashOf([{ entries: [1] }]) }, sig),
    ).toBe(false)
    expect(isBundleSignatureValid(manifest, { ...sig, username: 'eve@hospital-a' })).toBe(false)
    expect(isBundleSignatureValid(manifest, { ...sig, publicKey: '00'.repeat(32) })).toBe(false)
    expect(isBundleSignatureValid(manifest, { ...sig, signature: 'zz' })).toBe(false)
    // The same key's login signatures are over another tag: never a bundle signature.
    const login = toHex(ed25519.sign(new TextEncoder().encode('ehrlog/login/v1\0x'), seed))
    expect(isBundleSignatureValid(manifest, { ...sig, signature: login })).toBe(false)
  })

  it('hashes answers in canonical form: key order does not matter, content does', () => {
    expect(answersHashOf([{ a: 1, b: 2 }])).toBe(answersHashOf([{ b: 2, a: 1 }]))
    expect(answersHashOf([{ a: 1 }])).not.toBe(answersHashOf([{ a: 2 }]))
  })
})
