import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { canonicalJson } from './canonical-json.ts'
import { fromHex, toHex } from './hex.ts'
import { TAGS } from './layout.ts'
import type { QueryFilter, QueryScope } from './trust/index.ts'

/*
 * What an export bundle's creator signs (docs/query.md "Bundles"): who made it, when, from
 * which query, how many pages and entries, whether the export reached the end, and a hash of
 * every answer as it is in the file. Removing, adding or reordering a page changes the hash.
 */

/** How an export ended: `complete` (the last answer had no next page) or at `--max`. */
export type BundleEnd = 'complete' | 'max'

export interface BundleManifest {
  createdAt: string
  createdBy: string
  /** network.json's id (hex) the answers were verified against. */
  networkId: string
  filter: QueryFilter
  scope: QueryScope
  cursor: string | null
  pages: number
  entries: number
  end: BundleEnd
  /** The --max the export was given. */
  max: number
  /** SHA-256 (hex) of the RFC 8785 form of the `answers` array. */
  answersHash: string
}

/** The bundle's signature block: the exporting account's Ed25519 login key and its signature. */
export interface BundleSignature {
  username: string
  /** Hex, 32 bytes: the public key of the account's password-derived login key. */
  publicKey: string
  /** Hex, 64 bytes: Ed25519 (RFC 8032) over bundleManifestMessage(manifest). */
  signature: string
}

/** SHA-256 hex of the RFC 8785 canonical form of the answers. */
export function answersHashOf(answers: readonly unknown[]): string {
  return toHex(sha256(new TextEncoder().encode(canonicalJson(answers))))
}

/**
 * The signed message: UTF8(TAGS.bundle) || 0x00 || UTF8(RFC 8785 JSON of the manifest). The
 * tag keeps it apart from login challenges signed with the same key (TAGS.login).
 */
export function bundleManifestMessage(manifest: BundleManifest): Uint8Array {
  return new TextEncoder().encode(`${TAGS.bundle}\0${canonicalJson(manifest)}`)
}

/** Signs the manifest with the login key's 32-byte seed; returns the signature in hex. */
export function signBundleManifest(manifest: BundleManifest, seed: Uint8Array): string {
  return toHex(ed25519.sign(bundleManifestMessage(manifest), seed))
}

/** RFC 8032 verification (not ZIP-215) of a bundle signature; false for any malformed part. */
export function isBundleSignatureValid(manifest: BundleManifest, sig: BundleSignature): boolean {
  const publicKey = fromHex(sig.publicKey, 32)
  const signature = fromHex(sig.signature, 64)
  if (!publicKey || !signature || sig.username !== manifest.createdBy) return false
  try {
    return ed25519.verify(signature, bundleManifestMessage(manifest), publicKey, { zip215: false })
  } catch {
    return false
  }
}
