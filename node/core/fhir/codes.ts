import type { Action, Outcome } from '../event.ts'

/**
 * The code systems, codes and URLs of the FHIR R4 mapping, in one place (docs/fhir.md says
 * why each was chosen). Everything here is API: resources already exported carry these
 * values, so they are never changed, only added to.
 */

/** Our own namespace. `.example` is reserved (RFC 2606), so it can never name anyone else's. */
export const EHRLOG_FHIR_BASE = 'https://ehrlog.example/fhir'

/**
 * Complex extension on the AuditEvent root with what no R4 element holds: the event's
 * `detail` and `notes`, and (on export) the entry id `origin:seq` that proofs are asked by.
 */
export const EHRLOG_EVENT_EXTENSION = `${EHRLOG_FHIR_BASE}/StructureDefinition/ehrlog-event`
export const EXTENSION_PARTS = { entryId: 'entryId', detail: 'detail', notes: 'notes' } as const

/** Our `action` vocabulary as a code system, carried in AuditEvent.subtype: the exact action. */
export const EHRLOG_ACTION_SYSTEM = `${EHRLOG_FHIR_BASE}/CodeSystem/action`

/** Identifier system of the node (origin) that recorded an entry: source.observer. */
export const EHRLOG_NODE_SYSTEM = `${EHRLOG_FHIR_BASE}/sid/node`

export const SYSTEMS = {
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
  auditEventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  restfulInteraction: 'http://hl7.org/fhir/restful-interaction',
  securitySourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  auditEntityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
} as const

/** R3 spelled the object-role system this way; R4 examples converted from R3 still do. */
export const LEGACY_OBJECT_ROLE_SYSTEM = 'http://hl7.org/fhir/object-role'

export interface Code {
  system: string
  code: string
  display: string
}

const dicom = (code: string, display: string): Code => ({ system: SYSTEMS.dicom, code, display })

/** DICOM event ids (PS3.16 CID 400) that the R4 value set audit-event-type includes. */
export const EVENT_TYPES = {
  patientRecord: dicom('110110', 'Patient Record'),
  export: dicom('110106', 'Export'),
  query: dicom('110112', 'Query'),
  userAuthentication: dicom('110114', 'User Authentication'),
} as const

/** DICOM event type codes (CID 401), subtypes of User Authentication in the R4 examples. */
export const LOGIN = dicom('110122', 'Login')
export const LOGOUT = dicom('110123', 'Logout')

/** AuditEventAction (required binding). */
export const FHIR_ACTIONS = ['C', 'R', 'U', 'D', 'E'] as const
export type FhirAction = (typeof FHIR_ACTIONS)[number]

/**
 * Our action → R4 action, type and extra subtype. The action codes follow the R4 code
 * definitions: R is "Read/View/Print", so print and export (DICOM Export events use R, as the
 * R4 example-media does) are R; E is "Execute: ... such as log-on ... or perform a
 * query/search operation", so login, logout and query are E, and so is other.
 */
export const ACTION_MAP: Record<Action, { action: FhirAction; type: Code; subtype?: Code }> = {
  create: { action: 'C', type: EVENT_TYPES.patientRecord },
  read: { action: 'R', type: EVENT_TYPES.patientRecord },
  update: { action: 'U', type: EVENT_TYPES.patientRecord },
  delete: { action: 'D', type: EVENT_TYPES.patientRecord },
  print: { action: 'R', type: EVENT_TYPES.patientRecord },
  export: { action: 'R', type: EVENT_TYPES.export },
  query: { action: 'E', type: EVENT_TYPES.query },
  login: { action: 'E', type: EVENT_TYPES.userAuthentication, subtype: LOGIN },
  logout: { action: 'E', type: EVENT_TYPES.userAuthentication, subtype: LOGOUT },
  other: { action: 'E', type: EVENT_TYPES.patientRecord },
}

/** An R4 action code read alone, when nothing more specific is in type or subtype. */
export const ACTION_OF_FHIR_ACTION: Record<FhirAction, Action> = {
  C: 'create',
  R: 'read',
  U: 'update',
  D: 'delete',
  E: 'other',
}

/** restful-interaction subtypes (type `rest`) that name one of our actions. */
export const ACTION_OF_REST_INTERACTION: Readonly<Record<string, Action>> = {
  create: 'create',
  read: 'read',
  vread: 'read',
  history: 'read',
  'history-instance': 'read',
  'history-type': 'read',
  'history-system': 'read',
  update: 'update',
  patch: 'update',
  delete: 'delete',
  search: 'query',
  'search-type': 'query',
  'search-system': 'query',
}

/** AuditEventOutcome (required binding): 0 success, 4 minor, 8 serious, 12 major failure. */
export const FHIR_OUTCOMES = ['0', '4', '8', '12'] as const
export type FhirOutcome = (typeof FHIR_OUTCOMES)[number]

/** A refused or failed request is a minor failure ("often equivalent to an HTTP 400"). */
export const OUTCOME_MAP: Record<Outcome, FhirOutcome> = { success: '0', failure: '4' }

/** Every R4 failure grade reads back as failure: ehrlog does not grade failures. */
export const OUTCOME_OF_FHIR: Record<FhirOutcome, Outcome> = {
  '0': 'success',
  '4': 'failure',
  '8': 'failure',
  '12': 'failure',
}

/** The EHR application that detected the event (security-source-type). */
export const SOURCE_TYPE: Code = {
  system: SYSTEMS.securitySourceType,
  code: '4',
  display: 'Application Server',
}

export const ENTITY_TYPES = {
  person: { system: SYSTEMS.auditEntityType, code: '1', display: 'Person' },
  systemObject: { system: SYSTEMS.auditEntityType, code: '2', display: 'System Object' },
} as const satisfies Record<string, Code>

export const ENTITY_ROLES = {
  patient: { system: SYSTEMS.objectRole, code: '1', display: 'Patient' },
  /** "A logical object related to a health record event ... not restricted to FHIR Resources". */
  domainResource: { system: SYSTEMS.objectRole, code: '4', display: 'Domain Resource' },
} as const satisfies Record<string, Code>

/*
 * IHE Basic Audit Log Patterns (BALP, profiles.ihe.net/ITI/BALP, FHIR R4), written when a
 * search asks for it (docs/fhir.md, "BALP"). The constraints used are those of the BALP
 * profiles Read, Create, Update, Delete, Query and their Patient variants.
 */

/** The canonical base of BALP's StructureDefinitions: meta.profile is this plus the profile id. */
export const BALP_PROFILE_BASE = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition'

export const BALP_PROFILES = {
  patientCreate: `${BALP_PROFILE_BASE}/IHE.BasicAudit.PatientCreate`,
  patientRead: `${BALP_PROFILE_BASE}/IHE.BasicAudit.PatientRead`,
  patientUpdate: `${BALP_PROFILE_BASE}/IHE.BasicAudit.PatientUpdate`,
  patientDelete: `${BALP_PROFILE_BASE}/IHE.BasicAudit.PatientDelete`,
  patientQuery: `${BALP_PROFILE_BASE}/IHE.BasicAudit.PatientQuery`,
  query: `${BALP_PROFILE_BASE}/IHE.BasicAudit.Query`,
} as const

/** audit-event-type `rest`: every BALP RESTful pattern's type. */
export const REST_TYPE: Code = {
  system: SYSTEMS.auditEventType,
  code: 'rest',
  display: 'Restful Operation',
}

const rest = (code: string): Code => ({ system: SYSTEMS.restfulInteraction, code, display: code })

/** restful-interaction subtypes BALP fixes (or binds, for update and query) per pattern. */
export const REST_INTERACTIONS = {
  create: rest('create'),
  read: rest('read'),
  update: rest('update'),
  delete: rest('delete'),
  search: rest('search'),
  searchType: rest('search-type'),
} as const

/** The agent types BALP slices agents by (DICOM, HL7 v3 ParticipationType, provenance). */
export const BALP_AGENT_TYPES = {
  sourceRole: dicom('110153', 'Source Role ID'),
  destinationRole: dicom('110152', 'Destination Role ID'),
  application: dicom('110150', 'Application'),
  custodian: {
    system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
    code: 'custodian',
    display: 'Custodian',
  },
  informationRecipient: {
    system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
    code: 'IRCP',
    display: 'information recipient',
  },
  author: {
    system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
    code: 'AUT',
    display: 'author (originator)',
  },
} as const satisfies Record<string, Code>

/** object-role 24 Query: BALP's entity:query. */
export const QUERY_ROLE: Code = { system: SYSTEMS.objectRole, code: '24', display: 'Query' }

/** R4's extension for a required element whose value is not known (hl7.org/fhir/R4/extension-data-absent-reason.html). */
export const DATA_ABSENT_REASON = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason'
