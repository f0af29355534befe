import type { AuditEvent } from '../../core/event.ts'
import { patientKey } from '../format/key-layout.ts'
import type { EntryReader } from '../read/entry-reader.ts'
import { patientPostings } from '../read/index-postings.ts'
import type { StoreAccess } from '../store-access.ts'
import { sealingSink } from '../write/seal-worker.ts'

/**
 * Restores the patient postings of one feed from its entries, after the per-patient index,
 * rebuilt from those entries, showed them short (an insider deleted or damaged a posting):
 * every event entry up to `size` whose seq no posting of its patient lists gets a posting of
 * its own, P | blind(patient) | feed | seq, key-only (one per seq keeps each patient's seqs in
 * ascending key order, which the index's build from the postings relies on). Nothing is
 * removed: a posting listing a seq of another patient is harmless, since a query reads each
 * entry and keeps only those about the patient asked. Returns the seqs restored, ascending.
 */
export async function restorePatientPostings(
  access: StoreAccess,
  reader: Pick<EntryReader, 'entries'>,
  originOfTag: (tagHex: string) => string | undefined,
  blindOf: (patientId: string) => Buffer,
  origin: string,
  size: number,
): Promise<number[]> {
  const feed = access.feeds.get(origin)
  if (!feed || size === 0) return []
  const listed = new Map<string, Set<number>>()
  for await (const posting of patientPostings(access, originOfTag)) {
    if (posting.origin !== origin) continue
    const key = posting.blind.toString('hex')
    const seqs = listed.get(key) ?? new Set<number>()
    listed.set(key, seqs)
    for (let at = 0; at + 8 <= posting.seqs.length; at += 8)
      seqs.add(Number(posting.seqs.readBigUInt64BE(at)))
  }
  const batch = access.db.batch()
  const sink = sealingSink(access.cipher, batch)
  const restored: number[] = []
  for await (const { entry } of reader.entries(origin, 1, size)) {
    if (entry.kind !== 'event') continue
    const blind = blindOf((entry.body as AuditEvent).patientId)
    if (listed.get(blind.toString('hex'))?.has(entry.seq)) continue
    // Key-only, as every posting of one seq is written (write/indexes.ts).
    sink.putKeyOnly(patientKey(blind, feed.tag, entry.seq))
    restored.push(entry.seq)
  }
  if (restored.length > 0) await batch.write()
  else await batch.close()
  return restored
}
