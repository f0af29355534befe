import { createHash, hash } from 'node:crypto'
import { EhrlogError } from '../core/errors.ts'
import { type Action, type AuditEvent, LIMITS, normalTime, parseEvent } from '../core/event.ts'
import { readAuditXml, XmlRefusal } from './audit-xml.ts'

/** EventActionCode (DICOM PS3.15 A.5, RFC 3881 §5.1): C, R, U, D, E. */
const ACTION_OF_CODE: Record<string, Action> = {
  C: 'create',
  R: 'read',
  U: 'update',
  D: 'delete',
  E: 'other',
}
/** EventID codes (DCM) that name a more precise ehrlog action than EventActionCode 'E'. */
const ACTION_OF_EVENT_ID: Record<string, Action> = {
  '110112': 'query', // Query
  '110106': 'export', // Export
  '110114': 'login', // User Authentication (the EventTypeCode tells login from logout)
}

type Node = Record<string, unknown>

/** SHA-256 in hex: crypto.hash (one call, no Hash object) where Node has it (20.12+). */
const sha256Hex: (data: Buffer) => string =
  typeof hash === 'function'
    ? (data) => hash('sha256', data, 'hex')
    : (data) => createHash('sha256').update(data).digest('hex')

/**
 * Maps one DICOM PS3.15 A.5 or RFC 3881 audit message (XML bytes) to ehrlog events: one per
 * ParticipantObjectIdentification of type person (TypeCode 1) with role patient (1). The
 * events carry the message's SHA-256 and, up to 16 KiB, its bytes. A message with a DTD is
 * refused before parsing (an XML bomb is never expanded); so is one that is not well-formed,
 * names no patient, or lacks a field the mapping needs: MESSAGE_INVALID naming it.
 */
export function eventsOfAuditMessage(xml: Buffer): AuditEvent[] {
  return eventsOfAuditRoot(parseAuditMessage(xml), xml)
}

/** The events of a parsed AuditMessage element (`parseAuditMessage`) whose bytes are `xml`. */
export function eventsOfAuditRoot(root: Record<string, unknown>, xml: Buffer): AuditEvent[] {
  const ident = root.EventIdentification as Node | undefined
  if (!ident) throw invalid('EventIdentification', 'missing')
  const actionCode = attr(ident, 'EventActionCode')
  const eventId = coded(ident.EventID as Node | undefined)
  const byCode = actionCode === undefined ? undefined : ACTION_OF_CODE[actionCode]
  if (actionCode !== undefined && !byCode)
    throw invalid('EventActionCode', `${JSON.stringify(actionCode)}, want C, R, U, D or E`)
  const action = (eventId && ACTION_OF_EVENT_ID[eventId.code]) ?? byCode ?? 'other'
  const time = attr(ident, 'EventDateTime')
  if (!time) throw invalid('EventDateTime', 'missing')
  const outcomeCode = attr(ident, 'EventOutcomeIndicator') ?? '0'
  if (!['0', '4', '8', '12'].includes(outcomeCode))
    throw invalid('EventOutcomeIndicator', `${JSON.stringify(outcomeCode)}, want 0, 4, 8 or 12`)
  const requestor = asList(root.ActiveParticipant).find(
    (p) => attr(p, 'UserIsRequestor')?.toLowerCase() === 'true',
  )
  const actorId = requestor && attr(requestor, 'UserID')
  if (!actorId)
    throw invalid('ActiveParticipant', 'no ActiveParticipant with UserIsRequestor="true"')
  const source = attr(asList(root.AuditSourceIdentification)[0], 'AuditSourceID')
  if (!source) throw invalid('AuditSourceIdentification', 'no AuditSourceID')
  const objects = asList(root.ParticipantObjectIdentification)
  const patients = objects.filter(
    (o) =>
      attr(o, 'ParticipantObjectTypeCode') === '1' &&
      attr(o, 'ParticipantObjectTypeCodeRole') === '1',
  )
  if (patients.length === 0)
    throw invalid('ParticipantObjectIdentification', 'no patient (TypeCode 1, TypeCodeRole 1)')
  // The resource: the first object that is not the patient, else the patient record itself.
  const other = objects.find((o) => !patients.includes(o))
  const resourceCode = coded(
    (other ?? patients[0])?.ParticipantObjectIDTypeCode as Node | undefined,
  )
  const resource = resourceCode?.display ?? resourceCode?.code ?? 'patient'
  const sha256 = sha256Hex(xml)
  const original =
    xml.byteLength * 4 <= LIMITS.originalLength * 3 ? xml.toString('base64') : undefined
  // Normalized here (the schema's own time check), so that parseEvent's fast path
  // (isNormalEvent: every other field checked as the schema would) takes a well-formed message.
  const eventTime = normalTime(time)
  const patientName = (p: Node) => textOf(p.ParticipantObjectName)
  const actorName = requestor && attr(requestor, 'UserName')
  const detail = eventId && (eventId.display ?? eventId.code)
  const resourceId = other && attr(other, 'ParticipantObjectID')
  const outcome = outcomeCode === '0' ? 'success' : 'failure'
  return patients.map((p, i) => {
    // Built field by field in the order the events have always had (no spread per field).
    const event: Record<string, string | undefined> = {
      patientId: attr(p, 'ParticipantObjectID'),
    }
    const name = patientName(p)
    if (name !== undefined) event.patientName = name
    event.actorId = actorId
    if (actorName !== undefined) event.actorName = actorName
    event.action = action
    if (detail !== undefined) event.detail = detail
    event.resource = resource
    if (resourceId !== undefined) event.resourceId = resourceId
    event.time = eventTime
    event.outcome = outcome
    event.source = source
    event.originalSha256 = sha256
    if (original !== undefined) event.original = original
    return parseEvent(event, `AuditMessage.ParticipantObjectIdentification[${i}]`)
  })
}

/** The AuditMessage element of `xml`, parsed; MESSAGE_INVALID for a DTD or bad XML. */
export function parseAuditMessage(xml: Buffer): Record<string, unknown> {
  const text = xml.toString('utf8')
  // ATNA messages never carry a DTD (the schemas are XSD/RELAX NG); a DOCTYPE is where
  // entity-expansion attacks ("billion laughs") live, so it is refused outright.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw invalid('DOCTYPE', 'a DTD is not allowed')
  // One strict pass (saxes: XML 1.0 well-formedness) builds the object the mapping reads.
  let doc: Node
  try {
    doc = readAuditXml(text)
  } catch (err) {
    if (err instanceof XmlRefusal) throw invalid(err.field, err.message)
    throw err
  }
  const root = doc.AuditMessage as Node | undefined
  if (!root || typeof root !== 'object') throw invalid('AuditMessage', 'no AuditMessage root')
  return root
}

/**
 * The ids that let two records of one exchange be matched (docs/atna.md "Reconciliation"):
 * ParticipantObjectIDs of query objects (TypeCodeRole 24: both sides of an IHE query audit
 * the query's id) and of objects whose ID type is X-Request-Id.
 */
export function correlationIdsOf(root: Record<string, unknown>): string[] {
  const ids = asList(root.ParticipantObjectIdentification)
    .filter((o) => {
      const type = coded(o.ParticipantObjectIDTypeCode as Node | undefined)
      const isRequestId = [type?.code, type?.display].some(
        (t) => t?.toLowerCase() === 'x-request-id',
      )
      return attr(o, 'ParticipantObjectTypeCodeRole') === '24' || isRequestId
    })
    .map((o) => attr(o, 'ParticipantObjectID'))
  return [...new Set(ids.filter((id): id is string => id !== undefined))]
}

/** A coded value: DICOM's csd-code/originalText or RFC 3881's code/displayName. */
function coded(node: Node | undefined): { code: string; display?: string } | undefined {
  const code = attr(node, 'csd-code') ?? attr(node, 'code')
  if (!code) return undefined
  const display = attr(node, 'originalText') ?? attr(node, 'displayName')
  return display ? { code, display } : { code }
}

function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined
  const v = (node as Node)[name]
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
}

function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined
  if (v && typeof v === 'object') return textOf((v as Node)['#text'])
  return undefined
}

function asList(v: unknown): Node[] {
  return Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Node[]) : []
}

function invalid(field: string, problem: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `audit message ${field}: ${problem}`, {
    details: { field },
  })
}
