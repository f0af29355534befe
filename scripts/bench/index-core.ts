// Index core benchmark (issue 15): the per-patient index's building blocks, pure CPU, one
// thread: ECVRF prove / verify / output, sparse Merkle tree updates at 100,000 keys, proof
// size and verification time, and the in-memory index applying entries. Not part of
// `npm run bench` (it takes ~a minute); run it with
// `node --expose-gc --import tsx scripts/bench/index-core.ts`.
import { randomBytes } from 'node:crypto'
import {
  chainNext,
  EMPTY_HASH,
  encodeCompletenessProof,
  indexValueHash,
  PatientIndex,
  SparseMerkleTree,
  verifyCompleteness,
  vrfInput,
  vrfKeyPair,
  vrfOutput,
  vrfProve,
  vrfVerify,
} from '../../node/core/index/index.ts'
import { type Figure, printFigures } from './report.ts'

const gc = (globalThis as { gc?: () => void }).gc

/** With `node --expose-gc`, a full collection, so heap figures count live data only. */
function collectGarbage(): void {
  gc?.()
}

function perSecond(n: number, fn: (i: number) => void): number {
  const start = performance.now()
  for (let i = 0; i < n; i++) fn(i)
  return (n * 1000) / (performance.now() - start)
}

function timeMs(fn: () => void): number {
  const start = performance.now()
  fn()
  return performance.now() - start
}

function vrfFigures(): Figure[] {
  const { secretKey, publicKey } = vrfKeyPair(randomBytes(32))
  const inputs = Array.from({ length: 300 }, (_, i) => vrfInput(String(100_000 + i)))
  const proofs = inputs.map((a) => vrfProve(secretKey, a))
  return [
    {
      name: 'VRF output (beta only)',
      value: perSecond(300, (i) => vrfOutput(secretKey, inputs[i]!)),
      unit: '/s',
    },
    {
      name: 'VRF prove',
      value: perSecond(300, (i) => vrfProve(secretKey, inputs[i]!)),
      unit: '/s',
    },
    {
      name: 'VRF verify',
      value: perSecond(300, (i) => vrfVerify(publicKey, inputs[i]!, proofs[i]!)),
      unit: '/s',
    },
  ]
}

function treeFigures(): Figure[] {
  const keys = Array.from({ length: 100_000 }, () => new Uint8Array(randomBytes(32)))
  const tree = new SparseMerkleTree()
  const salt = new Uint8Array(32)
  const buildMs = timeMs(() => {
    for (const k of keys) tree.set(k, indexValueHash(salt, 1, chainNext(EMPTY_HASH, 1)))
    tree.root()
  })
  // Ingest shape: batches of 1,000 distinct patients (the worst case), one root per batch.
  const batches = 50
  const batchMs = timeMs(() => {
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < 1000; i++) {
        const k = keys[(b * 7919 + i * 104_729) % keys.length]!
        tree.set(k, indexValueHash(salt, 2, chainNext(EMPTY_HASH, b * 1000 + i)))
      }
      tree.root()
    }
  })
  const single = perSecond(5000, (i) => {
    tree.set(keys[(i * 31) % keys.length]!, indexValueHash(salt, 3, EMPTY_HASH))
    tree.root()
  })
  const root = tree.root()
  const sizes: number[] = []
  const proofs = keys.slice(0, 2000).map((k) => tree.prove(k))
  for (const p of proofs) sizes.push(p.siblings.filter((s) => s.some((x) => x !== 0)).length)
  const meanSiblings = sizes.reduce((a, b) => a + b, 0) / sizes.length
  void root
  return [
    { name: 'tree: 100,000 inserts + root', value: buildMs, unit: 'ms' },
    {
      name: 'tree update at 100k keys, batches of 1,000 distinct keys + root',
      value: (batches * 1000 * 1000) / batchMs,
      unit: 'updates/s',
    },
    { name: 'tree update + root each, at 100k keys', value: single, unit: 'updates/s' },
    { name: 'non-empty siblings per proof at 100k keys (mean)', value: meanSiblings, unit: '' },
  ]
}

function indexFigures(): Figure[] {
  const patients = 20_000
  const entries = 200_000
  const origins = ['hospital-a', 'hospital-b', 'hospital-c']
  const index = new PatientIndex(new Uint8Array(randomBytes(32)))
  collectGarbage()
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  const seqs = new Map(origins.map((o) => [o, 0]))
  let vrfMs = 0
  const applyMs = timeMs(() => {
    for (let i = 0; i < entries; i++) {
      const origin = origins[i % 3]!
      const seq = seqs.get(origin)! + 1
      seqs.set(origin, seq)
      const patient = String((i * 7919) % patients)
      if (i < patients) vrfMs += timeMs(() => index.applyEntry(origin, seq, patient))
      else index.applyEntry(origin, seq, patient)
    }
    for (const o of origins) index.indexRoot(o)
  })
  collectGarbage()
  const heapMiB =
    (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore) / 2 ** 20
  // A 100-entry trail isn't in this data; take the proof of one patient (~10 entries).
  const proof = index.prove('9', origins)
  const bytes = encodeCompletenessProof(proof)
  const cut = new Map(
    origins.map((o) => [o, { treeSize: index.treeSize(o), indexRoot: index.indexRoot(o) }]),
  )
  const answer: { origin: string; seq: number; patientId: string }[] = []
  const counters = new Map(origins.map((o) => [o, 0]))
  for (let i = 0; i < entries; i++) {
    const origin = origins[i % 3]!
    counters.set(origin, counters.get(origin)! + 1)
    if (String((i * 7919) % patients) === '9')
      answer.push({ origin, seq: counters.get(origin)!, patientId: '9' })
  }
  const verifyMs =
    timeMs(() => {
      for (let r = 0; r < 20; r++) {
        verifyCompleteness({
          vrfPublicKey: index.vrfPublicKey,
          patientId: '9',
          cut,
          proof,
          entries: answer,
        })
      }
    }) / 20
  return [
    {
      name: `index: ${entries} entries, ${patients} patients, 3 origins (VRF included)`,
      value: (entries * 1000) / applyMs,
      unit: 'entries/s',
    },
    {
      name: 'index: the same without the first-seen VRF outputs',
      value: ((entries - patients) * 1000) / (applyMs - vrfMs),
      unit: 'entries/s',
    },
    {
      name: `index: memory held after GC${gc ? '' : ' (no --expose-gc: approximate)'}`,
      value: heapMiB,
      unit: 'MiB',
    },
    {
      name: `completeness proof, 3 origins (${answer.length} entries)`,
      value: bytes.length,
      unit: 'bytes',
      target: '< 8 KiB per origin',
      meets: bytes.length < 8192 * 3,
    },
    { name: 'verifyCompleteness (VRF verify + 3 tree proofs)', value: verifyMs, unit: 'ms' },
  ]
}

printFigures('index core (issue 15)', [...vrfFigures(), ...treeFigures(), ...indexFigures()])
