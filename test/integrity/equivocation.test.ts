import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { fromHex } from '../../node/core/hex.ts'
import { MemoryTree } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { evidenceFromConflict } from '../../node/integrity/equivocation.ts'
import {
  decodeEvidence,
  type EquivocationEvidence,
  encodeEvidence,
  equivocationKey,
  evidenceToJson,
  verifyEquivocation,
} from '../../node/integrity/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { A, B, C, entriesOf, useIntegrityNetwork, waitFor } from './harness.ts'

describe('equivocation: one origin signing two entries for one seq', () => {
  const net = useIntegrityNetwork()

  it('is proven by the nodes that hold the other entry and verified and reported by every node', async () => {
    await net.setUp(2)
    const a = net.node(A)
    // Whoever holds hospital-a's key signs a second, different entry 8 and its head.
    const { signingKey } = await openNodeDir(net.dir(A))
    const authentic = await entriesOf(a, A)
    const second = makeEntry(A, 8, authentic[6]!.hash, 'event', makeEvent(99), new Date())
    const tree = new MemoryTree([...authentic.slice(0, 7).map((e) => e.hash), second.hash])
    const head = signTreeHead(signingKey, A, 8, tree.root())
    // hospital-b gossips it (its own store never sees what it publishes).
    net.node(B).net.publish({ origin: A, entries: [second.bytes], head })

    for (const name of [A, B, C]) {
      await waitFor(`${name} to report the equivocation`, () =>
        net.incidents(name).some((i) => i.kind === 'equivocation'),
      )
    }
    const keyA = fromHex((await openNodeDir(net.dir(A))).identity.ed25519PublicKey, 32)!
    for (const name of [A, B, C]) {
      const found = net.incidents(name).filter((i) => i.kind === 'equivocation')
      expect(found).toHaveLength(1)
      const incident = found[0]!
      expect(incident).toMatchObject({
        reportingNode: name,
        origin: A,
        entryIds: ['hospital-a:8'],
        seqFrom: 8,
        seqTo: 8,
        key: 'hospital-a:8',
      })
      // The evidence names both entries by hash, each proven into a head hospital-a signed;
      // that is the proof on its own. The entries' bytes (patient data) are left out.
      const evidence = incident.evidence as Record<string, Record<string, unknown>>
      expect(new Set([evidence.a!.entryHash, evidence.b!.entryHash])).toEqual(
        new Set([authentic[7]!.hash, second.hash].map((h) => Buffer.from(h).toString('hex'))),
      )
      expect(evidence.a!.entry).toBeUndefined()
      expect(evidence.b!.entry).toBeUndefined()
      const text = JSON.stringify(incident)
      for (const secret of ['patient-1', 'Patient Name 1', 'note number 7', 'note number 99'])
        expect(text).not.toContain(secret)
      const wire = decodeEvidence(
        new TextEncoder().encode(JSON.stringify({ v: 1, ...incident.evidence })),
      )
      verifyEquivocation(wire, keyA)
    }
    // Nobody stored the second entry, and nobody's replica was touched.
    for (const name of [A, B, C]) {
      const e8 = await net.node(name).store.getEntry(A, 8)
      expect(Buffer.compare(e8!.bytes, authentic[7]!.bytes)).toBe(0)
      expect((await net.node(name).store.verify()).ok).toBe(true)
      expect(net.incidents(name).filter((i) => i.kind !== 'equivocation')).toEqual([])
    }
  })

  it('evidence that does not verify is refused: another key, one entry twice, a bad proof', async () => {
    const { A: origin, other, evidence } = await sampleEvidence()
    verifyEquivocation(evidence, origin)
    const expectRefused = (e: EquivocationEvidence, key = origin) => {
      let err: unknown
      try {
        verifyEquivocation(decodeEvidence(encodeEvidence(e)), key)
      } catch (caught) {
        err = caught
      }
      expect(isEhrlogError(err)).toBe(true)
    }
    expectRefused(evidence, other)
    if (evidence.type !== 'entries') throw new Error('want entries evidence')
    expectRefused({ ...evidence, b: evidence.a })
    const badProof = evidence.b.proof.map((h) => h.map((x, i) => (i === 0 ? x ^ 1 : x)))
    expectRefused({ ...evidence, b: { ...evidence.b, proof: badProof } })
    expectRefused({ ...evidence, seq: 7 })
    // Without the entries (as alerts carry it) the hashes and proofs still prove it, and a
    // changed hash is refused; so is an entry that is not the one its hash names.
    const { a, b } = evidence
    const hashOnly = (e: EquivocationEvidence) =>
      decodeEvidence(
        new TextEncoder().encode(
          JSON.stringify({ v: 1, ...evidenceToJson(e, { entries: false }) }),
        ),
      )
    const stripped = hashOnly(evidence)
    if (stripped.type !== 'entries') throw new Error('want entries evidence')
    expect(stripped.a.bytes).toBeUndefined()
    verifyEquivocation(stripped, origin)
    const flipped = b.leafHash.map((x, i) => (i === 0 ? x ^ 1 : x))
    expectRefused({ ...stripped, b: { ...stripped.b, leafHash: flipped } })
    expectRefused({ ...evidence, b: { ...b, leafHash: flipped } })
    expectRefused({ ...evidence, b: { ...b, bytes: a.bytes } })
    expect(() => decodeEvidence(new TextEncoder().encode('{"v":1,"type":"entries"}'))).toThrow(
      /origin/,
    )
  })
})

describe('evidence built from a conflicting batch', () => {
  const tempDir = useTempDirs()

  it('names the first differing seq when the batch shows it, else the two heads', async () => {
    const signer = makeSigner(A)
    const store = openStore(await tempDir(), makeStoreKeys(), [signer])
    await store.open()
    await store.appendEvents(
      signer,
      [0, 1, 2, 3].map((i) => makeEvent(i)),
    )
    await store.appendEvents(
      signer,
      [4, 5, 6, 7].map((i) => makeEvent(i)),
    )
    // A second history of hospital-a that departs at seq 3, signed with its key.
    const forked = [(await store.getEntry(A, 1))!, (await store.getEntry(A, 2))!]
    for (let seq = 3; seq <= 8; seq++)
      forked.push(
        makeEntry(A, seq, forked[seq - 2]!.hash, 'event', makeEvent(50 + seq), new Date()),
      )
    const tree = new MemoryTree(forked.map((e) => e.hash))
    const head = signTreeHead(signer.privateKey, A, 8, tree.root())
    const whole = { origin: A, entries: forked.map((e) => e.bytes), head }
    const err = await store.acceptBatch(whole).catch((e: unknown) => e)
    expect(isEhrlogError(err, 'EQUIVOCATION')).toBe(true)

    const byEntries = await evidenceFromConflict(store.scrubView, whole, signer.publicKey)
    expect(byEntries).toMatchObject({ type: 'entries', origin: A, seq: 3 })
    verifyEquivocation(byEntries!, signer.publicKey)

    // Only its last three entries: where the histories part is not in the batch.
    const tail = { ...whole, entries: whole.entries.slice(5) }
    const byHeads = await evidenceFromConflict(store.scrubView, tail, signer.publicKey)
    expect(byHeads).toMatchObject({ type: 'heads', origin: A, treeSize: 8 })
    verifyEquivocation(decodeEvidence(encodeEvidence(byHeads!)), signer.publicKey)
    expect(equivocationKey(byHeads!)).toBe('hospital-a:size-8')

    // The same history as ours is no equivocation.
    const same = {
      origin: A,
      entries: [(await store.getEntry(A, 8))!.bytes],
      head: (await store.heads(A, 8).next()).value!,
    }
    expect(await evidenceFromConflict(store.scrubView, same, signer.publicKey)).toBeUndefined()
    await store.close()
  })
})

/** Two different entries 3 of one origin, each under a head it signed. */
async function sampleEvidence() {
  const { generateKeyPairSync } = await import('node:crypto')
  const { ed25519RawPublicKey } = await import('../../node/core/tree-head.ts')
  const key = generateKeyPairSync('ed25519').privateKey
  const other = ed25519RawPublicKey(generateKeyPairSync('ed25519').privateKey)
  const e1 = makeEntry(A, 1, undefined, 'event', makeEvent(1), new Date())
  const e2 = makeEntry(A, 2, e1.hash, 'event', makeEvent(2), new Date())
  const x = makeEntry(A, 3, e2.hash, 'event', makeEvent(3), new Date())
  const y = makeEntry(A, 3, e2.hash, 'event', makeEvent(4), new Date())
  const tx = new MemoryTree([e1.hash, e2.hash, x.hash])
  const ty = new MemoryTree([e1.hash, e2.hash, y.hash])
  const evidence: EquivocationEvidence = {
    type: 'entries',
    origin: A,
    seq: 3,
    a: {
      bytes: x.bytes,
      leafHash: x.hash,
      proof: tx.inclusionProof(2),
      head: signTreeHead(key, A, 3, tx.root()),
    },
    b: {
      bytes: y.bytes,
      leafHash: y.hash,
      proof: ty.inclusionProof(2),
      head: signTreeHead(key, A, 3, ty.root()),
    },
  }
  return { A: ed25519RawPublicKey(key), other, evidence }
}
