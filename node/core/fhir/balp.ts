import type { Entry } from '../entry.ts'
import type { AuditEvent } from '../event.ts'
import { type ToFhirOptions, toFhirAuditEvent } from './audit-event.ts'
import {
  BALP_AGENT_TYPES,
  BALP_PROFILES,
  type Code,
  DATA_ABSENT_REASON,
  ENTITY_TYPES,
  QUERY_ROLE,
  REST_INTERACTIONS,
  REST_TYPE,
} from './codes.ts'
import type {
  AuditEventAgent,
  AuditEventEntity,
  Coding,
  Extension,
  FhirAuditEvent,
} from './types.ts'

/**
 * AuditEvents in IHE Basic Audit Log Patterns (BALP) shape (docs/fhir.md, "BALP"): what a
 * search with `mapping=balp` shows. An event that a BALP pattern describes (a successful
 * create, read, update, delete or query) is written to that profile and names it in
 * meta.profile; any other event (a failure, print, export, login, logout, other: BALP has no
 * pattern for them) is written in the ehrlog mapping, claiming nothing. Both keep the
 * ehrlog-event extension, so the entry id and every event field are still there. Pure.
 */

/** The mappings a search can ask for: the documented ehrlog one (default), or BALP. */
export const FHIR_MAPPINGS = ['ehrlog', 'balp'] as const
export type FhirMapping = (typeof FHIR_MAPPINGS)[number]

/** Patient id of ehrlog's own query records that are not about one patient. */
const NO_PATIENT = '*'

interface Pattern {
  profile: string
  interaction: Code
  /** agent:client, agent:server and agent:user types, as that BALP profile fixes them. */
  client: Code
  server: Code
  user: Code
}

/**
 * Agent types differ by profile, as BALP defines them: Read has the client as Destination
 * Role ID (the data flows to it), Create, Update and Query as Source Role ID (the request
 * flows from it), Delete as Application with the server as Custodian. The user is the
 * information recipient of a read or query, the author (AUT, in BALP's DataSources value
 * set) of a create, update or delete.
 */
const T = BALP_AGENT_TYPES
const PATTERNS = {
  create: {
    profile: BALP_PROFILES.patientCreate,
    interaction: REST_INTERACTIONS.create,
    client: T.sourceRole,
    server: T.destinationRole,
    user: T.author,
  },
  read: {
    profile: BALP_PROFILES.patientRead,
    interaction: REST_INTERACTIONS.read,
    client: T.destinationRole,
    server: T.sourceRole,
    user: T.informationRecipient,
  },
  update: {
    profile: BALP_PROFILES.patientUpdate,
    interaction: REST_INTERACTIONS.update,
    client: T.sourceRole,
    server: T.destinationRole,
    user: T.author,
  },
  delete: {
    profile: BALP_PROFILES.patientDelete,
    interaction: REST_INTERACTIONS.delete,
    client: T.application,
    server: T.custodian,
    user: T.author,
  },
  query: {
    profile: BALP_PROFILES.patientQuery,
    interaction: REST_INTERACTIONS.search,
    client: T.sourceRole,
    server: T.destinationRole,
    user: T.informationRecipient,
  },
} as const satisfies Record<string, Pattern>

/**
 * The BALP profile an event is written to, or undefined when no pattern describes it. BALP's
 * RESTful patterns are for successful interactions only ("failures are recorded
 * differently"), and it defines none for print, export, login, logout or other.
 */
export function balpProfileOf(event: AuditEvent): string | undefined {
  if (event.outcome !== 'success') return undefined
  if (event.action === 'query' && event.patientId === NO_PATIENT) return BALP_PROFILES.query
  return event.action in PATTERNS
    ? PATTERNS[event.action as keyof typeof PATTERNS].profile
    : undefined
}

/** The entry as an AuditEvent in the mapping asked for. */
export function toFhirAuditEventAs(
  mapping: FhirMapping,
  entry: Entry<AuditEvent>,
  opts: ToFhirOptions = {},
): FhirAuditEvent {
  return mapping === 'balp' ? toBalpAuditEvent(entry, opts) : toFhirAuditEvent(entry, opts)
}

/**
 * The entry as a BALP AuditEvent when a pattern describes it, else exactly toFhirAuditEvent.
 * Precondition: a valid event entry. Elements BALP requires that an ehrlog event does not
 * know (the client's identity and both network addresses) are written with R4's
 * data-absent-reason `unknown`, never made up.
 */
export function toBalpAuditEvent(
  entry: Entry<AuditEvent>,
  opts: ToFhirOptions = {},
): FhirAuditEvent {
  const base = toFhirAuditEvent(entry, opts)
  const event = entry.body
  const profile = balpProfileOf(event)
  if (profile === undefined) return base
  const pattern = PATTERNS[event.action as keyof typeof PATTERNS]
  const ownSearch = event.action === 'query' && event.resource === 'audit_log'
  // ehrlog's own searches are searches of one type (AuditEvent); an EHR's query may be any.
  const interaction = ownSearch ? REST_INTERACTIONS.searchType : pattern.interaction
  const [patient, data] = base.entity!
  const node = base.source.observer
  const user = base.agent[0]!
  const agents: AuditEventAgent[] = [
    { type: concept(pattern.client), who: absent(), requestor: false, network: absent() },
    { type: concept(pattern.server), who: node, requestor: false, network: absent() },
    { type: concept(pattern.user), who: user.who!, requestor: true },
  ]
  const entities: AuditEventEntity[] = []
  if (event.patientId !== NO_PATIENT) {
    // entity:patient, what only Reference(Patient): the type says so; the id is logical.
    entities.push({ ...patient!, what: { type: 'Patient', ...patient!.what } })
  }
  entities.push(event.action === 'query' ? queryEntity(event) : dataEntity(data!))
  const { resourceType, id, extension, ...rest } = base
  return {
    resourceType,
    ...(id === undefined ? {} : { id }),
    meta: { profile: [profile] },
    ...(extension === undefined ? {} : { extension }),
    ...rest,
    type: coding(REST_TYPE),
    // The restful interaction first (BALP's slice), then ehrlog's exact action.
    subtype: [coding(interaction), ...(base.subtype ?? [])],
    agent: agents,
    entity: entities,
  }
}

/** entity:data (what 1..1): the record touched; without a resourceId its id is data absent. */
function dataEntity(data: AuditEventEntity): AuditEventEntity {
  return data.what === undefined ? { what: absent(), ...data } : data
}

/**
 * entity:query (role 24 Query, no what, query 1..1 as base64): the search as the event gives
 * it, its resourceId, else its notes (ehrlog's own records: `via http, filter {…}`), else
 * its resource; `description` is the resource, as in the ehrlog mapping.
 */
function queryEntity(event: AuditEvent): AuditEventEntity {
  const text = event.resourceId ?? event.notes ?? event.resource
  return {
    type: coding(ENTITY_TYPES.systemObject),
    role: coding(QUERY_ROLE),
    description: event.resource,
    query: base64(text),
  }
}

function absent(): { extension: Extension[] } {
  return { extension: [{ url: DATA_ABSENT_REASON, valueCode: 'unknown' }] }
}

function concept(code: Code): { coding: Coding[] } {
  return { coding: [coding(code)] }
}

function coding(code: Code): Coding {
  return { system: code.system, code: code.code, display: code.display }
}

/** Standard base64 of the UTF-8 text (no Buffer: the browser client maps too). */
function base64(text: string): string {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}
