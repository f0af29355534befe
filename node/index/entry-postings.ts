import type { AuditEvent } from '../core/event.ts'
import type { LogStore, PatientPosting } from '../store/index.ts'

/**
 * The patient postings as the feeds themselves give them: every entry up to the sizes the
 * store has now, read and decrypted, its events grouped per patient (seqs ascending). Slower
 * than the stored postings (P | blind | feed | seq) that a start builds from, but it rests on
 * nothing but the entries, which the scrub has just verified: what check() compares the index
 * with, so that a posting an insider deleted or damaged is found, not built in. One batch
 * per origin, like the store's postings in batches.
 */
export async function* entryPostings(
  store: Pick<LogStore, 'sizes' | 'entries' | 'patientIndex'>,
): AsyncGenerator<PatientPosting[]> {
  for (const [origin, size] of store.sizes()) {
    const byPatient = new Map<string, number[]>()
    for await (const { entry } of store.entries(origin, 1, size)) {
      if (entry.kind !== 'event') continue
      const id = (entry.body as AuditEvent).patientId
      const seqs = byPatient.get(id)
      if (seqs) seqs.push(entry.seq)
      else byPatient.set(id, [entry.seq])
    }
    const batch: PatientPosting[] = []
    for (const [id, seqs] of byPatient) {
      const bytes = Buffer.alloc(8 * seqs.length)
      for (let i = 0; i < seqs.length; i++) bytes.writeBigUInt64BE(BigInt(seqs[i]!), 8 * i)
      batch.push({ blind: store.patientIndex.blind(id), origin, seqs: bytes })
    }
    yield batch
  }
}
