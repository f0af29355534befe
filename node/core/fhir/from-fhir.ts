import { EhrlogError } from '../errors.ts'
import {
  ACTIONS,
  type Action,
  type AuditEvent,
  type AuditEventInput,
  auditEventSchema,
} from '../event.ts'
import {
  ACTION_MAP,
  ACTION_OF_FHIR_ACTION,
  ACTION_OF_REST_INTERACTION,
  EHRLOG_ACTION_SYSTEM,
  EHRLOG_EVENT_EXTENSION,
  EVENT_TYPES,
  EXTENSION_PARTS,
  type FhirAction,
  type FhirOutcome,
  LEGACY_OBJECT_ROLE_SYSTEM,
  LOGIN,
  LOGOUT,
  OUTCOME_OF_FHIR,
  SYSTEMS,
} from './codes.ts'
import type { AuditEventEntity, Coding, FhirAuditEvent, FhirIssue } from './types.ts'
import { validateAuditEvent } from './validate.ts'

/** Most issues listed in one error; the first is in the message, all of these in details. */
const MAX_ISSUES = 100

/**
 * Reads an R4 AuditEvent, ours or another system's, into an event input (to be checked by
 * parseEvent). Throws EVENT_INVALID naming the FHIR element (`AuditEvent.agent[0].who`) when
 * the resource is not valid R4 or lacks what an ehrlog event needs: a patient, one requesting
 * agent with an id, a resource, an action. docs/fhir.md has the rules.
 */
export function fromFhirAuditEvent(resource: unknown, where = 'AuditEvent'): AuditEventInput {
  throwIfIssues(validateAuditEvent(resource, where))
  return readAuditEvent(resource as FhirAuditEvent, where).input
}

/** fromFhirAuditEvent, then parseEvent; its errors, too, name the FHIR element the field came from. */
export function parseFhirAuditEvent(resource: unknown, where = 'AuditEvent'): AuditEvent {
  throwIfIssues(validateAuditEvent(resource, where))
  return parseValidated(resource as FhirAuditEvent, where)
}

/** For resources already validated (a Bundle's entries): map, then parseEvent. */
export function parseValidated(resource: FhirAuditEvent, where: string): AuditEvent {
  const { input, sources } = readAuditEvent(resource, where)
  const parsed = auditEventSchema.safeParse(input)
  if (parsed.success) return parsed.data
  throw issuesError(
    parsed.error.issues.map((i) => ({
      field: sources[String(i.path[0]) as keyof AuditEventInput] ?? where,
      problem: i.message,
    })),
  )
}

/** Throws EVENT_INVALID for the first issue, with every issue (up to 100) in details.issues. */
export function throwIfIssues(issues: FhirIssue[]): void {
  if (issues.length > 0) throw issuesError(issues)
}

function issuesError(issues: FhirIssue[]): EhrlogError {
  const first = issues[0] ?? { field: 'resource', problem: 'is invalid' }
  return new EhrlogError('EVENT_INVALID', `${first.field} ${first.problem}`, {
    details: { field: first.field, issues: issues.slice(0, MAX_ISSUES), issueCount: issues.length },
  })
}

function fail(field: string, problem: string): never {
  throw issuesError([{ field, problem }])
}

type Sources = Partial<Record<keyof AuditEventInput, string>>

function readAuditEvent(r: FhirAuditEvent, where: string) {
  const sources: Sources = {}
  const patient = patientOf(r, where, sources)
  const input: AuditEventInput = {
    patientId: patient.id,
    ...(patient.name === undefined ? {} : { patientName: patient.name }),
    ...actorOf(r, where, sources),
    action: actionOf(r, where, sources),
    ...resourceOf(r, patient.index, where, sources),
    time: timeOf(r, where, sources),
    ...extensionFieldsOf(r, where, sources),
  }
  if (r.outcome !== undefined) {
    input.outcome = OUTCOME_OF_FHIR[r.outcome as FhirOutcome]
    sources.outcome = `${where}.outcome`
  }
  return { input, sources }
}

/** The patient: the one entity with role Patient (object-role 1) or what.reference Patient/<id>. */
function patientOf(r: FhirAuditEvent, where: string, sources: Sources) {
  const entities = r.entity ?? []
  const found = entities.flatMap((e, i) => (isPatient(e) ? [i] : []))
  if (found.length === 0) {
    fail(
      `${where}.entity`,
      `${entities.length === 0 ? 'is missing' : 'names no patient'}: an ehrlog event is about a patient; want an entity with role Patient (object-role 1) or what.reference Patient/<id>`,
    )
  }
  if (found.length > 1) {
    fail(
      `${where}.entity[${found[1]}]`,
      `is a second patient (entity[${found[0]}] is the first): an ehrlog event is about one patient, so send one AuditEvent per patient`,
    )
  }
  const index = found[0]!
  const at = `${where}.entity[${index}]`
  const what = entities[index]!.what
  const ref = parseReference(what?.reference)
  let id: string
  if (what?.identifier?.value !== undefined) {
    id = what.identifier.value
    sources.patientId = `${at}.what.identifier.value`
  } else if (ref?.type === 'Patient') {
    id = ref.id
    sources.patientId = `${at}.what.reference`
  } else {
    fail(
      `${at}.what`,
      'names no patient id: want what.identifier.value or what.reference Patient/<id>',
    )
  }
  const name = what?.display ?? entities[index]!.name
  if (name !== undefined)
    sources.patientName = what?.display !== undefined ? `${at}.what.display` : `${at}.name`
  return { index, id, name }
}

function isPatient(e: AuditEventEntity): boolean {
  const role = e.role
  const patientRole =
    role?.code === '1' &&
    (role.system === SYSTEMS.objectRole || role.system === LEGACY_OBJECT_ROLE_SYSTEM)
  return patientRole || parseReference(e.what?.reference)?.type === 'Patient'
}

/** The actor: the one agent with requestor true, by who.identifier.value or who.reference. */
function actorOf(r: FhirAuditEvent, where: string, sources: Sources) {
  const found = r.agent.flatMap((a, i) => (a.requestor === true ? [i] : []))
  if (found.length === 0) {
    fail(
      `${where}.agent`,
      'has no agent with requestor true: ehrlog records who initiated the event',
    )
  }
  if (found.length > 1) {
    fail(
      `${where}.agent[${found[1]}].requestor`,
      `is true, and so is agent[${found[0]}].requestor: an ehrlog event has one actor`,
    )
  }
  const at = `${where}.agent[${found[0]}]`
  const agent = r.agent[found[0]!]!
  const who = agent.who
  let actorId: string
  if (who?.identifier?.value !== undefined) {
    actorId = who.identifier.value
    sources.actorId = `${at}.who.identifier.value`
  } else if (who?.reference !== undefined) {
    // The whole reference (Practitioner/12, Device/7): its type says what kind of actor it is.
    actorId = who.reference
    sources.actorId = `${at}.who.reference`
  } else {
    fail(
      `${at}.who`,
      `${who ? 'names no actor id' : 'is missing'}: want who.identifier.value or who.reference`,
    )
  }
  const actorName = who?.display ?? agent.name
  if (actorName === undefined) return { actorId }
  sources.actorName = who?.display !== undefined ? `${at}.who.display` : `${at}.name`
  return { actorId, actorName }
}

/**
 * Our action: from the ehrlog subtype when present (ours, exact); else from a well-known type
 * or subtype (DICOM login/logout/query/export, FHIR REST interactions) agreeing with the
 * action code; else from the action code alone (E reads as other).
 */
function actionOf(r: FhirAuditEvent, where: string, sources: Sources): Action {
  const ours = (r.subtype ?? []).flatMap((c, i) => (c.system === EHRLOG_ACTION_SYSTEM ? [i] : []))
  if (ours.length > 1) {
    fail(
      `${where}.subtype[${ours[1]}]`,
      `repeats the ehrlog action of subtype[${ours[0]}]: want one`,
    )
  }
  const code = (r.action as FhirAction | undefined) ?? undefined
  if (ours.length === 1) {
    const at = `${where}.subtype[${ours[0]}].code`
    const action = r.subtype![ours[0]!]!.code
    if (!ACTIONS.includes(action as Action)) {
      fail(
        at,
        `is ${JSON.stringify(action)}: want one of ${ACTIONS.join(', ')} (${EHRLOG_ACTION_SYSTEM})`,
      )
    }
    const want = ACTION_MAP[action as Action].action
    if (code !== undefined && code !== want) {
      fail(`${where}.action`, `is "${code}", but ${at} is ${action}, which is "${want}"`)
    }
    sources.action = at
    return action as Action
  }
  const known = wellKnownAction(r.type, r.subtype ?? [])
  if (known !== undefined && (code === undefined || ACTION_MAP[known].action === code)) {
    sources.action = `${where}.type`
    return known
  }
  if (code === undefined) {
    fail(
      `${where}.action`,
      'is missing, and type and subtype name no action ehrlog knows: want C, R, U, D or E',
    )
  }
  sources.action = `${where}.action`
  return ACTION_OF_FHIR_ACTION[code]
}

function wellKnownAction(type: Coding, subtype: Coding[]): Action | undefined {
  const is = (c: Coding, want: { system: string; code: string }) =>
    c.system === want.system && c.code === want.code
  if (is(type, EVENT_TYPES.userAuthentication)) {
    if (subtype.some((c) => is(c, LOGIN))) return 'login'
    if (subtype.some((c) => is(c, LOGOUT))) return 'logout'
    return undefined
  }
  if (is(type, EVENT_TYPES.query)) return 'query'
  if (is(type, EVENT_TYPES.export)) return 'export'
  if (type.system === SYSTEMS.auditEventType && type.code === 'rest') {
    for (const c of subtype) {
      const action =
        c.system === SYSTEMS.restfulInteraction && ACTION_OF_REST_INTERACTION[c.code ?? '']
      if (action) return action
    }
  }
  return undefined
}

/**
 * What was touched: the first entity besides the patient (description, else name, else the
 * type of what.reference; the id from what.identifier.value or what.reference); when the
 * patient is the only entity and a literal Patient reference, the Patient resource itself.
 */
function resourceOf(r: FhirAuditEvent, patientIndex: number, where: string, sources: Sources) {
  const entities = r.entity ?? []
  const index = entities.findIndex((_, i) => i !== patientIndex)
  if (index < 0) {
    const ref = parseReference(entities[patientIndex]?.what?.reference)
    if (!ref) {
      fail(
        `${where}.entity`,
        'names no resource: want an entity besides the patient, with description (the table or resource type touched)',
      )
    }
    sources.resource = sources.resourceId = `${where}.entity[${patientIndex}].what.reference`
    return { resource: ref.type, resourceId: ref.id }
  }
  const at = `${where}.entity[${index}]`
  const entity = entities[index]!
  const ref = parseReference(entity.what?.reference)
  const out: { resource: string; resourceId?: string } = { resource: '' }
  if (entity.description !== undefined) {
    out.resource = entity.description
    sources.resource = `${at}.description`
  } else if (entity.name !== undefined) {
    out.resource = entity.name
    sources.resource = `${at}.name`
  } else if (ref) {
    out.resource = ref.type
    sources.resource = `${at}.what.reference`
  } else {
    fail(
      at,
      'names no resource: want description (the table or resource type touched), name, or what.reference Type/<id>',
    )
  }
  if (entity.what?.identifier?.value !== undefined) {
    out.resourceId = entity.what.identifier.value
    sources.resourceId = `${at}.what.identifier.value`
  } else if (ref) {
    out.resourceId = ref.id
    sources.resourceId = `${at}.what.reference`
  }
  return out
}

/** When it happened: period.start, else period.end, else (no period) the time it was recorded. */
function timeOf(r: FhirAuditEvent, where: string, sources: Sources): string {
  for (const key of ['start', 'end'] as const) {
    const time = r.period?.[key]
    if (time !== undefined) {
      sources.time = `${where}.period.${key}`
      return time
    }
  }
  sources.time = `${where}.recorded`
  return r.recorded
}

function extensionFieldsOf(r: FhirAuditEvent, where: string, sources: Sources) {
  const found = (r.extension ?? []).flatMap((x, i) => (x.url === EHRLOG_EVENT_EXTENSION ? [i] : []))
  if (found.length === 0) return {}
  if (found.length > 1)
    fail(
      `${where}.extension[${found[1]}]`,
      `repeats extension[${found[0]}]: want one ${EHRLOG_EVENT_EXTENSION}`,
    )
  const at = `${where}.extension[${found[0]}]`
  const parts = r.extension![found[0]!]!.extension
  if (parts === undefined)
    fail(at, 'has a value: want the nested extensions detail, notes and entryId')
  const out: { detail?: string; notes?: string } = {}
  const seen = new Set<string>()
  parts.forEach((part, j) => {
    const partAt = `${at}.extension[${j}]`
    const known = Object.values(EXTENSION_PARTS) as string[]
    if (!known.includes(part.url))
      fail(`${partAt}.url`, `is ${JSON.stringify(part.url)}: want one of ${known.join(', ')}`)
    if (seen.has(part.url)) fail(partAt, `repeats ${part.url}: want it once`)
    seen.add(part.url)
    if (typeof part.valueString !== 'string') fail(partAt, `(${part.url}) must have a valueString`)
    // entryId names the entry this resource was exported from; a new entry gets its own.
    if (part.url === EXTENSION_PARTS.detail || part.url === EXTENSION_PARTS.notes) {
      out[part.url] = part.valueString
      sources[part.url] = `${partAt}.valueString`
    }
  })
  return out
}

/** A literal reference `[base/]Type/id[/_history/v]`; undefined for anything else (urn:, #local). */
function parseReference(ref: string | undefined): { type: string; id: string } | undefined {
  if (ref === undefined) return undefined
  const m =
    /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(
      ref,
    )
  return m ? { type: m[1]!, id: m[2]! } : undefined
}
