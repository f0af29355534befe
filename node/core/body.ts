import { canonicalJson } from './canonical-json.ts'
import type { EntryKind } from './entry.ts'
import { EhrlogError } from './errors.ts'
import { auditEventSchema, eventError } from './event.ts'

/**
 * Checks an entry body received from another node against its kind's schema. An event body
 * must already be in normal form (what parseEvent would produce), so two replicas can never
 * hold differently-spelled copies of one event. Kinds other than 'event' carry records the
 * network keeps itself (users, alerts); their schemas are checked by their own modules.
 */
export function verifyEntryBody(kind: EntryKind, body: unknown): void {
  if (kind !== 'event') return
  const parsed = auditEventSchema.safeParse(body)
  if (!parsed.success) throw eventError(parsed.error, 'entry.body')
  if (canonicalJson(parsed.data) !== canonicalJson(body)) {
    throw new EhrlogError('ENTRY_INVALID', 'entry.body is not in normal form (trimmed, UTC time)', {
      details: { field: 'entry.body' },
    })
  }
}
