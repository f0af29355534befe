import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyEntryBody } from '../../node/core/body.ts'
import { decodeEntry, type Entry, encodeEntry } from '../../node/core/entry.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { verifyEd25519 } from '../../node/core/tree-head.ts'
import { proposalMessage, type SignedProposal } from '../../node/core/trust/index.ts'
import type { MembershipRecord } from '../../node/core/trust/membership-record.ts'
import {
  decodeGovernanceMessage,
  encodeGovernanceMessage,
} from '../../node/membership/governance-messages.ts'
import { proposalId } from '../../node/membership/governance-pool.ts'
import { hexFields, readFormatExamples } from '../core/format-doc.ts'

// docs/format.md, "Entry kinds" (`membership`), recomputed with the code.
const examples = readFormatExamples()
const utf8 = new TextEncoder()

function jsonLine(name: string): string {
  const found = examples.get(name)
  if (!found) throw new Error(`docs/format.md has no example ${name}`)
  expect(found.lines).toHaveLength(1)
  return found.lines[0]!
}

describe('docs/protocol.md: the membership topic message', () => {
  it("is hospital-a's copy of format.md's first membership change, 475 bytes, as the node encodes it", () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocol.md'), 'utf8')
    const line = doc.split('\n').find((l) => l.startsWith('{"v":1,"type":"proposal"'))!
    expect(utf8.encode(line).byteLength).toBe(475)
    const decoded = decodeGovernanceMessage(utf8.encode(line))
    const change = JSON.parse(jsonLine('membership-change-1')) as SignedProposal
    expect(decoded).toEqual({ ...change, signatures: change.signatures.slice(0, 1) })
    expect(new TextDecoder().decode(encodeGovernanceMessage(decoded))).toBe(line)
    expect(encodeGovernanceMessage(change).byteLength).toBe(642)
    expect(proposalId(change).startsWith('3be246d2')).toBe(true)
  })
})

describe('docs/format.md: membership entries', () => {
  it('the signed record is canonical, valid, hashes as shown, and its signature and id are those of the membership change example', () => {
    const text = jsonLine('entry-membership')
    const decoded = decodeEntry(utf8.encode(text))
    expect(decoded.entry.kind).toBe('membership')
    expect(decoded.bytes.byteLength).toBe(469)
    verifyEntryBody(decoded.entry.kind, decoded.entry.body, decoded.entry.origin)
    expect(new TextDecoder().decode(encodeEntry(JSON.parse(text) as Entry).bytes)).toBe(text)
    const hash = hexFields(examples.get('entry-membership-hash')!).get('membership entry hash')
    expect(toHex(decoded.hash)).toBe(hash)

    const change = JSON.parse(jsonLine('membership-change-1')) as SignedProposal
    const body = decoded.entry.body as MembershipRecord & { op: 'signed' }
    expect(body.id).toBe(proposalId(change))
    const signature = change.signatures.find((s) => s.signer === 'hospital-b')!.signature
    expect(body.signature).toBe(signature)
    // Ed25519 public key of RFC 8032 §7.1 TEST 2 (hospital-b's in the example network).
    const key = fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 32)!
    expect(verifyEd25519(key, proposalMessage(change.proposal), fromHex(body.signature, 64)!)).toBe(
      true,
    )
  })

  it('a membership body with an unknown field or op is refused (ENTRY_INVALID)', () => {
    const entry = JSON.parse(jsonLine('entry-membership')) as Entry<Record<string, unknown>>
    expect(() => verifyEntryBody('membership', { ...entry.body, extra: 1 })).toThrow(
      /ENTRY_INVALID|membership record/,
    )
    expect(() => verifyEntryBody('membership', { ...entry.body, op: 'vetoed' })).toThrow(
      /membership record/,
    )
  })
})
