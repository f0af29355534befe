/**
 * The parts of FHIR R4 (4.0.1) that ehrlog writes, as TypeScript types. What others send is
 * `unknown` until validate.ts has checked it against the full R4 structure.
 */

export interface Coding {
  system?: string
  version?: string
  code?: string
  display?: string
  userSelected?: boolean
}

export interface CodeableConcept {
  coding?: Coding[]
  text?: string
}

export interface Identifier {
  system?: string
  value?: string
}

export interface Reference {
  extension?: Extension[]
  reference?: string
  type?: string
  identifier?: Identifier
  display?: string
}

export interface Period {
  start?: string
  end?: string
}

export interface Extension {
  url: string
  valueString?: string
  valueBase64Binary?: string
  valueInteger?: number
  valueCode?: string
  extension?: Extension[]
}

export interface AuditEventAgent {
  type?: CodeableConcept
  who?: Reference
  name?: string
  requestor: boolean
  /** BALP's client and server agents require one; ehrlog writes it as data absent. */
  network?: { extension?: Extension[]; address?: string; type?: string }
}

export interface AuditEventEntity {
  what?: Reference
  type?: Coding
  role?: Coding
  name?: string
  description?: string
  /** base64Binary: the search, on BALP's entity:query. */
  query?: string
}

export interface FhirAuditEvent {
  resourceType: 'AuditEvent'
  id?: string
  /** Written only with a BALP profile the AuditEvent meets. */
  meta?: { profile: string[] }
  extension?: Extension[]
  type: Coding
  subtype?: Coding[]
  action?: string
  period?: Period
  recorded: string
  outcome?: string
  agent: AuditEventAgent[]
  source: { site?: string; observer: Reference; type?: Coding[] }
  entity?: AuditEventEntity[]
}

export const BUNDLE_TYPES = [
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
] as const
export type BundleType = (typeof BUNDLE_TYPES)[number]

export interface FhirBundle<R = FhirAuditEvent> {
  resourceType: 'Bundle'
  type: BundleType
  total?: number
  entry?: Array<{
    fullUrl?: string
    resource?: R
    search?: { mode: 'match' }
    request?: { method: string; url: string }
  }>
}

/** One problem found in a resource: the element (FHIRPath-like, `AuditEvent.agent[0].who`) and what is wrong with it. */
export interface FhirIssue {
  field: string
  problem: string
}
