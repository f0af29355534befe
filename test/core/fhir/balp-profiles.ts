/**
 * The constraints of the IHE BALP profiles ehrlog claims, transcribed from their published
 * StructureDefinitions (profiles.ihe.net/ITI/BALP, FHIR R4; docs/fhir.md, "BALP", lists the
 * same facts), and a checker for one AuditEvent against them. Slices are found as BALP
 * discriminates them: agents and entities by `type`, the interaction subtype by value.
 */
// biome-ignore lint/suspicious/noExplicitAny: the checker reads untyped JSON at any depth
type Json = Record<string, any>

const BASE = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.'
const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType'
const PROV = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type'
const REST = 'http://hl7.org/fhir/restful-interaction'
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type'
const ROLE = 'http://terminology.hl7.org/CodeSystem/object-role'

interface ProfileRules {
  action: string
  /** restful-interaction codes of the required subtype slice (one of). */
  interactions: string[]
  client: [string, string]
  server: [string, string]
  /** agent:user type codes allowed (fixed, or BALP's DataSources value set). */
  user: Array<[string, string]>
  /** entity:data (role from RestObjectRoles) or entity:query (role 24, query 1..1, no what). */
  object: 'data' | 'query'
  patient: boolean
}

const DATA_SOURCES: Array<[string, string]> = [
  [V3, 'AUT'],
  [V3, 'INF'],
  [V3, 'CST'],
]
const SEARCHES = ['search', 'search-type', 'search-system']

export const BALP_RULES: Record<string, ProfileRules> = {
  PatientCreate: {
    action: 'C',
    interactions: ['create'],
    client: [DCM, '110153'],
    server: [DCM, '110152'],
    user: DATA_SOURCES,
    object: 'data',
    patient: true,
  },
  PatientRead: {
    action: 'R',
    interactions: ['read', 'vread'],
    client: [DCM, '110152'],
    server: [DCM, '110153'],
    user: [[V3, 'IRCP']],
    object: 'data',
    patient: true,
  },
  PatientUpdate: {
    action: 'U',
    interactions: ['update', 'patch'],
    client: [DCM, '110153'],
    server: [DCM, '110152'],
    user: DATA_SOURCES,
    object: 'data',
    patient: true,
  },
  PatientDelete: {
    action: 'D',
    interactions: ['delete'],
    client: [DCM, '110150'],
    server: [PROV, 'custodian'],
    user: DATA_SOURCES,
    object: 'data',
    patient: true,
  },
  PatientQuery: {
    action: 'E',
    interactions: SEARCHES,
    client: [DCM, '110153'],
    server: [DCM, '110152'],
    user: [[V3, 'IRCP']],
    object: 'query',
    patient: true,
  },
  Query: {
    action: 'E',
    interactions: SEARCHES,
    client: [DCM, '110153'],
    server: [DCM, '110152'],
    user: [[V3, 'IRCP']],
    object: 'query',
    patient: false,
  },
}

const is = (c: Json | undefined, [system, code]: [string, string]) =>
  c?.system === system && c?.code === code
const typed = (a: Json, code: [string, string]) =>
  (a.type?.coding ?? []).some((c: Json) => is(c, code))
const present = (v: unknown) =>
  typeof v === 'object' && v !== null && Object.keys(v as object).length > 0

/** Every way `resource` breaks profile `name` (its id after IHE.BasicAudit.); empty when it meets it. */
export function balpProblems(name: string, r: Json): string[] {
  const rules = BALP_RULES[name]!
  const out: string[] = []
  const want = (ok: boolean, what: string) => {
    if (!ok) out.push(what)
  }
  want(r.meta?.profile?.includes(`${BASE}${name}`), `meta.profile names ${name}`)
  want(
    r.type?.system === 'http://terminology.hl7.org/CodeSystem/audit-event-type' &&
      r.type?.code === 'rest',
    'type is audit-event-type rest',
  )
  const subtypes = (r.subtype ?? []).filter(
    (c: Json) => c.system === REST && rules.interactions.includes(c.code),
  )
  want(subtypes.length === 1, `one subtype of ${rules.interactions.join('|')}`)
  want(r.action === rules.action, `action is ${rules.action}`)
  want(typeof r.recorded === 'string', 'recorded 1..1')
  want(r.outcome === '0', 'outcome is 0 (success)')
  const agents: Json[] = r.agent ?? []
  want(agents.length >= 2, 'agent 2..*')
  for (const [slice, code] of [
    ['client', rules.client],
    ['server', rules.server],
  ] as const) {
    const found = agents.filter((a) => typed(a, code))
    want(found.length === 1, `agent:${slice} 1..1 (${code[1]})`)
    want(present(found[0]?.who), `agent:${slice}.who 1..1`)
    want(present(found[0]?.network), `agent:${slice}.network 1..1`)
    want(found[0]?.media === undefined, `agent:${slice}.media 0..0`)
  }
  const users = agents.filter((a) => rules.user.some((code) => typed(a, code)))
  want(users.length <= 1, 'agent:user 0..1')
  if (users[0]) {
    want(present(users[0].who), 'agent:user.who 1..1')
    want(users[0].requestor === true, 'agent:user.requestor is true')
    want(users[0].network === undefined, 'agent:user.network 0..0')
  }
  const entities: Json[] = r.entity ?? []
  const patients = entities.filter((e) => is(e.type, [ENTITY_TYPE, '1']) && is(e.role, [ROLE, '1']))
  if (rules.patient) {
    want(patients.length === 1, 'entity:patient 1..1')
    const what = patients[0]?.what
    want(
      present(what) &&
        (what.type === 'Patient' || /(^|\/)Patient\/[^/]+$/.test(what.reference ?? '')),
      'entity:patient.what 1..1, a Reference(Patient)',
    )
  }
  if (rules.object === 'data') {
    const data = entities.filter(
      (e) => is(e.type, [ENTITY_TYPE, '2']) && ['3', '4', '20'].includes(e.role?.code),
    )
    want(data.length === 1, 'entity:data 1..1')
    want(present(data[0]?.what), 'entity:data.what 1..1')
    want(data[0]?.role?.system === ROLE, 'entity:data.role from RestObjectRoles')
  } else {
    const queries = entities.filter(
      (e) => is(e.type, [ENTITY_TYPE, '2']) && is(e.role, [ROLE, '24']),
    )
    want(queries.length === 1, 'entity:query 1..1')
    want(queries[0]?.what === undefined, 'entity:query.what 0..0')
    want(typeof queries[0]?.query === 'string', 'entity:query.query 1..1')
    want(queries[0]?.detail === undefined, 'entity:query.detail 0..0')
  }
  want(entities.length >= (rules.patient && rules.object === 'data' ? 2 : 1), 'entity count')
  return out
}
