import {
  BLIND_SIZE,
  type FeedTag,
  indexBetaKey,
  PREFIX,
  patientKey,
  prefixRange,
  readU64,
} from '../format/key-layout.ts'
import type { StoreAccess } from '../store-access.ts'
import { type EntryRef, postingSeqs } from '../write/indexes.ts'

/**
 * One patient posting: the seqs (u64be each, ascending) of one patient's events in one batch
 * (of a key-only posting, its key's last 8 bytes).
 */
export interface PatientPosting {
  /** The patient's blind index (16 bytes): no patient id is read. */
  blind: Buffer
  origin: string
  seqs: Buffer
}

/**
 * Every patient posting (P | blind | feed | first seq), in key order: by blind, then feed,
 * then seq, so each patient's seqs per feed come in ascending order. The iterator reads one
 * LevelDB snapshot, taken when this is called (classic-level makes it at iterator creation),
 * so a caller that reads the feed sizes in the same tick sees postings up to those sizes and
 * maybe a few later ones (written but not yet reported), never fewer. Postings that fail
 * authentication are skipped (verify reports them); `damaged` counts them. Yielded in
 * batches (one LevelDB read of up to 1,000 each): a rebuild reads a million postings, and an
 * await per posting cost more than its decryption.
 */
export async function* patientPostingBatches(
  access: StoreAccess,
  originOfTag: (tagHex: string) => string | undefined,
  damaged: { count: number } = { count: 0 },
): AsyncGenerator<PatientPosting[]> {
  const iterator = access.db.iterator(prefixRange(Buffer.of(PREFIX.patient)))
  try {
    for (;;) {
      const chunk = await iterator.nextv(1000)
      if (chunk.length === 0) return
      const batch: PatientPosting[] = []
      for (const [key, value] of chunk) {
        const origin = originOfTag(key.subarray(key.length - 16, key.length - 8).toString('hex'))
        const plain = postingSeqs(access.cipher, key, value)
        if (!origin || !plain) {
          damaged.count++
          continue
        }
        batch.push({ blind: key.subarray(1, 1 + BLIND_SIZE), origin, seqs: plain })
      }
      yield batch
    }
  } finally {
    await iterator.close()
  }
}

/** The same postings one by one (patientPostingBatches). */
export async function* patientPostings(
  access: StoreAccess,
  originOfTag: (tagHex: string) => string | undefined,
  damaged: { count: number } = { count: 0 },
): AsyncGenerator<PatientPosting> {
  for await (const batch of patientPostingBatches(access, originOfTag, damaged)) yield* batch
}

/**
 * One patient's entries in one feed, from its postings (P | blind | feed | first seq) in key
 * order, so in ascending seq order: the seqs of each posting read, decrypted and yielded only
 * when the caller asks for more (a query page stops reading once it is full, and a patient's
 * trail grows by one posting per query of it). From `fromSeq` on (a later page's cursor): the
 * reading starts at the last posting whose first seq is at most `fromSeq`, found by its key
 * alone, so the postings of the pages before are neither read nor decrypted (a posting holds
 * one append's seqs, so every seq of an earlier posting is below that first seq). Seqs below
 * `fromSeq` in that first posting are yielded too; the caller skips them. Postings that fail
 * authentication are skipped (verify reports them), as in LogStore.findByPatient.
 */
export async function* patientRefsIn(
  access: StoreAccess,
  blind: Buffer,
  tag: FeedTag,
  origin: string,
  fromSeq = 1,
): AsyncGenerator<EntryRef[]> {
  const prefix = Buffer.concat([Buffer.of(PREFIX.patient), blind, tag])
  const range = prefixRange(prefix)
  let gte = range.gte
  if (fromSeq > 1) {
    const [start] = await access.db
      .keys({ gte, lte: patientKey(blind, tag, fromSeq), reverse: true, limit: 1 })
      .all()
    if (start) gte = start
  }
  const iterator = access.db.iterator({ gte, lt: range.lt })
  try {
    for (let want = 16; ; want = Math.min(want * 2, 1000)) {
      const chunk = await iterator.nextv(want)
      if (chunk.length === 0) return
      const refs: EntryRef[] = []
      for (const [key, value] of chunk) {
        const plain = postingSeqs(access.cipher, key, value)
        if (!plain) continue
        for (let at = 0; at + 8 <= plain.length; at += 8)
          refs.push({ origin, seq: readU64(plain, at) })
      }
      yield refs
    }
  } finally {
    await iterator.close()
  }
}

/** Cached VRF outputs by blind index, sealed; undefined where none (or one that fails to open). */
export async function getIndexBetas(
  access: StoreAccess,
  blinds: readonly Uint8Array[],
): Promise<(Buffer | undefined)[]> {
  const keys = blinds.map(indexBetaKey)
  const values = await access.db.getMany(keys)
  return values.map((v, i) => (v ? access.cipher.open(keys[i]!, v) : undefined))
}

/** Stores VRF outputs by blind index, sealed like every other value, in one write. */
export async function putIndexBetas(
  access: StoreAccess,
  betas: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
): Promise<void> {
  if (betas.length === 0) return
  const batch = access.db.batch()
  for (const [blind, beta] of betas) {
    const key = indexBetaKey(blind)
    batch.put(key, access.cipher.seal(key, beta))
  }
  await batch.write()
}
