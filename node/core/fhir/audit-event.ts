import type { Entry } from '../entry.ts'
import type { AuditEvent } from '../event.ts'
import { ORIGIN_PATTERN } from '../layout.ts'
import {
  ACTION_MAP,
  type Code,
  EHRLOG_ACTION_SYSTEM,
  EHRLOG_EVENT_EXTENSION,
  EHRLOG_NODE_SYSTEM,
  ENTITY_ROLES,
  ENTITY_TYPES,
  EXTENSION_PARTS,
  OUTCOME_MAP,
  SOURCE_TYPE,
} from './codes.ts'
import type { AuditEventEntity, Coding, Extension, FhirAuditEvent, Identifier } from './types.ts'

/** Identifier systems for the EHR's ids; without them the identifiers carry a value only. */
export interface ToFhirOptions {
  /** The namespace of patientId values, e.g. the hospital's MRN system (`urn:oid:…`). */
  patientIdSystem?: string
  /** The namespace of actorId values, e.g. the EHR's user directory. */
  actorIdSystem?: string
}

const FHIR_ID_MAX = 64

/**
 * The FHIR id of entry `origin:seq`: `origin.seq` (an id allows no colon). Origins are DNS
 * labels without dots, so the last dot splits it back. Undefined past FHIR's 64 characters
 * (an origin over 47 characters with a large seq); the entry id then travels only in the
 * ehrlog-event extension.
 */
export function fhirIdOfEntry(origin: string, seq: number): string | undefined {
  const id = `${origin}.${seq}`
  return id.length <= FHIR_ID_MAX ? id : undefined
}

/** The entry a FHIR id names (`hospital-a.42` → hospital-a, 42); undefined when it is not one of ours. */
export function entryOfFhirId(id: string): { origin: string; seq: number } | undefined {
  const dot = id.lastIndexOf('.')
  if (dot <= 0) return undefined
  const origin = id.slice(0, dot)
  const digits = id.slice(dot + 1)
  const seq = Number(digits)
  if (!ORIGIN_PATTERN.test(origin) || !/^[1-9][0-9]*$/.test(digits) || !Number.isSafeInteger(seq))
    return undefined
  return { origin, seq }
}

/**
 * An event entry as an R4 AuditEvent (docs/fhir.md has the table). Standard elements carry
 * every field they can; the ehrlog-event extension carries detail, notes and the entry id,
 * so fromFhirAuditEvent gives back exactly `entry.body`. Precondition: a valid event entry.
 */
export function toFhirAuditEvent(
  entry: Entry<AuditEvent>,
  opts: ToFhirOptions = {},
): FhirAuditEvent {
  const event = entry.body
  const mapped = ACTION_MAP[event.action]
  const id = fhirIdOfEntry(entry.origin, entry.seq)
  const subtype = mapped.subtype ? [coding(mapped.subtype)] : []
  subtype.push({ system: EHRLOG_ACTION_SYSTEM, code: event.action, display: event.action })
  return {
    resourceType: 'AuditEvent',
    ...(id === undefined ? {} : { id }),
    extension: [eventExtension(entry)],
    type: coding(mapped.type),
    subtype,
    action: mapped.action,
    // start = end: an event happens at an instant, and a period without an end is "ongoing".
    period: { start: event.time, end: event.time },
    recorded: entry.recorded,
    outcome: OUTCOME_MAP[event.outcome],
    agent: [
      {
        who: {
          identifier: identifier(opts.actorIdSystem, event.actorId),
          ...(event.actorName === undefined ? {} : { display: event.actorName }),
        },
        requestor: true,
      },
    ],
    source: {
      observer: {
        identifier: { system: EHRLOG_NODE_SYSTEM, value: entry.origin },
        display: entry.origin,
      },
      type: [coding(SOURCE_TYPE)],
    },
    entity: [patientEntity(event, opts), resourceEntity(event)],
  }
}

function eventExtension(entry: Entry<AuditEvent>): Extension {
  // `origin:seq`, the entry id of entry.ts (not imported: entry.ts uses Buffer at load).
  const parts: Extension[] = [
    { url: EXTENSION_PARTS.entryId, valueString: `${entry.origin}:${entry.seq}` },
  ]
  const { detail, notes } = entry.body
  if (detail !== undefined) parts.push({ url: EXTENSION_PARTS.detail, valueString: detail })
  if (notes !== undefined) parts.push({ url: EXTENSION_PARTS.notes, valueString: notes })
  return { url: EHRLOG_EVENT_EXTENSION, extension: parts }
}

function patientEntity(event: AuditEvent, opts: ToFhirOptions): AuditEventEntity {
  // A logical reference (identifier), not Patient/<id>: the EHR's patient id is not the id of
  // a Patient resource on any FHIR server we know of.
  return {
    what: {
      identifier: identifier(opts.patientIdSystem, event.patientId),
      ...(event.patientName === undefined ? {} : { display: event.patientName }),
    },
    type: coding(ENTITY_TYPES.person),
    role: coding(ENTITY_ROLES.patient),
  }
}

function resourceEntity(event: AuditEvent): AuditEventEntity {
  return {
    ...(event.resourceId === undefined
      ? {}
      : { what: { identifier: { value: event.resourceId } } }),
    type: coding(ENTITY_TYPES.systemObject),
    role: coding(ENTITY_ROLES.domainResource),
    description: event.resource,
  }
}

function identifier(system: string | undefined, value: string): Identifier {
  return system === undefined ? { value } : { system, value }
}

function coding(code: Code): Coding {
  return { system: code.system, code: code.code, display: code.display }
}
