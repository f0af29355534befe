import { BUNDLE_TYPES } from './types.ts'

/**
 * The R4 (4.0.1) structure of AuditEvent and Bundle and the datatypes they use, as tables
 * the validator walks: element name, type, cardinality, and the codes of required bindings.
 * Transcribed from the R4 StructureDefinitions (hl7.org/fhir/R4/auditevent.html,
 * bundle.html, datatypes.html); extensible and example bindings are not enforced, as the
 * spec allows other codes there.
 */

export type Primitive =
  | 'string'
  | 'code'
  | 'id'
  | 'uri'
  | 'instant'
  | 'dateTime'
  | 'boolean'
  | 'base64Binary'
  | 'xhtml'
  | 'unsignedInt'
  | 'integer'
  | 'decimal'

/** Validated by their own rules: Extension (url, value[x] or nested extensions), Resource (contained). */
export type Special = 'Extension' | 'Resource'

export interface ElementDef {
  /** A primitive, a special, or a structure (a function where the types are recursive). */
  type: Primitive | Special | (() => Structure)
  min?: 1
  /** 0..* or 1..*: a JSON array. */
  many?: true
  /** The codes of a required binding. */
  codes?: readonly string[]
  /** Choice group (`value` for value[x]): at most one member; with min 1, exactly one. */
  choice?: string
}

/** Which base elements a structure inherits (Element, BackboneElement, Resource, DomainResource). */
export type Base = 'element' | 'backbone' | 'resource' | 'domainResource'

export interface Structure {
  name: string
  base: Base
  elements: Readonly<Record<string, ElementDef>>
}

function struct(name: string, base: Base, elements: Record<string, ElementDef>): () => Structure {
  const s: Structure = { name, base, elements }
  return () => s
}

const IDENTIFIER_USE = ['usual', 'official', 'temp', 'secondary', 'old'] as const
const NARRATIVE_STATUS = ['generated', 'extensions', 'additional', 'empty'] as const
const NETWORK_TYPE = ['1', '2', '3', '4', '5'] as const
const HTTP_VERB = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] as const
const SEARCH_MODE = ['match', 'include', 'outcome'] as const

export const Coding = struct('Coding', 'element', {
  system: { type: 'uri' },
  version: { type: 'string' },
  code: { type: 'code' },
  display: { type: 'string' },
  userSelected: { type: 'boolean' },
})

export const CodeableConcept = struct('CodeableConcept', 'element', {
  coding: { type: Coding, many: true },
  text: { type: 'string' },
})

export const Period = struct('Period', 'element', {
  start: { type: 'dateTime' },
  end: { type: 'dateTime' },
})

export const Identifier: () => Structure = struct('Identifier', 'element', {
  use: { type: 'code', codes: IDENTIFIER_USE },
  type: { type: CodeableConcept },
  system: { type: 'uri' },
  value: { type: 'string' },
  period: { type: Period },
  assigner: { type: () => Reference() },
})

export const Reference: () => Structure = struct('Reference', 'element', {
  reference: { type: 'string' },
  type: { type: 'uri' },
  identifier: { type: Identifier },
  display: { type: 'string' },
})

export const Meta = struct('Meta', 'element', {
  versionId: { type: 'id' },
  lastUpdated: { type: 'instant' },
  source: { type: 'uri' },
  profile: { type: 'uri', many: true },
  security: { type: Coding, many: true },
  tag: { type: Coding, many: true },
})

export const Narrative = struct('Narrative', 'element', {
  status: { type: 'code', min: 1, codes: NARRATIVE_STATUS },
  div: { type: 'xhtml', min: 1 },
})

export const Signature = struct('Signature', 'element', {
  type: { type: Coding, min: 1, many: true },
  when: { type: 'instant', min: 1 },
  who: { type: Reference, min: 1 },
  onBehalfOf: { type: Reference },
  targetFormat: { type: 'code' },
  sigFormat: { type: 'code' },
  data: { type: 'base64Binary' },
})

/** Datatypes an extension's value[x] may take in R4; the ones modelled here are checked in depth. */
export const EXTENSION_VALUE_TYPES: Readonly<Record<string, Primitive | (() => Structure) | null>> =
  {
    String: 'string',
    Code: 'code',
    Id: 'id',
    Uri: 'uri',
    Url: 'uri',
    Canonical: 'uri',
    Oid: 'uri',
    Uuid: 'uri',
    Instant: 'instant',
    DateTime: 'dateTime',
    Boolean: 'boolean',
    Base64Binary: 'base64Binary',
    Integer: 'integer',
    UnsignedInt: 'unsignedInt',
    PositiveInt: 'integer',
    Decimal: 'decimal',
    Markdown: 'string',
    Date: 'dateTime',
    Time: 'string',
    Coding,
    CodeableConcept,
    Identifier,
    Reference,
    Period,
    Meta,
    Signature,
    // Valid R4 value types not modelled here: only their JSON shape (an object) is checked.
    Address: null,
    Age: null,
    Annotation: null,
    Attachment: null,
    ContactPoint: null,
    Count: null,
    Distance: null,
    Duration: null,
    HumanName: null,
    Money: null,
    Quantity: null,
    Range: null,
    Ratio: null,
    SampledData: null,
    Timing: null,
    ContactDetail: null,
    Contributor: null,
    DataRequirement: null,
    Expression: null,
    ParameterDefinition: null,
    RelatedArtifact: null,
    TriggerDefinition: null,
    UsageContext: null,
    Dosage: null,
  }

const AgentNetwork = struct('AuditEvent.agent.network', 'backbone', {
  address: { type: 'string' },
  type: { type: 'code', codes: NETWORK_TYPE },
})

const Agent = struct('AuditEvent.agent', 'backbone', {
  type: { type: CodeableConcept },
  role: { type: CodeableConcept, many: true },
  who: { type: Reference },
  altId: { type: 'string' },
  name: { type: 'string' },
  requestor: { type: 'boolean', min: 1 },
  location: { type: Reference },
  policy: { type: 'uri', many: true },
  media: { type: Coding },
  network: { type: AgentNetwork },
  purposeOfUse: { type: CodeableConcept, many: true },
})

const Source = struct('AuditEvent.source', 'backbone', {
  site: { type: 'string' },
  observer: { type: Reference, min: 1 },
  type: { type: Coding, many: true },
})

const EntityDetail = struct('AuditEvent.entity.detail', 'backbone', {
  type: { type: 'string', min: 1 },
  valueString: { type: 'string', min: 1, choice: 'value' },
  valueBase64Binary: { type: 'base64Binary', min: 1, choice: 'value' },
})

const Entity = struct('AuditEvent.entity', 'backbone', {
  what: { type: Reference },
  type: { type: Coding },
  role: { type: Coding },
  lifecycle: { type: Coding },
  securityLabel: { type: Coding, many: true },
  name: { type: 'string' },
  description: { type: 'string' },
  query: { type: 'base64Binary' },
  detail: { type: EntityDetail, many: true },
})

export const AuditEvent = struct('AuditEvent', 'domainResource', {
  type: { type: Coding, min: 1 },
  subtype: { type: Coding, many: true },
  action: { type: 'code', codes: ['C', 'R', 'U', 'D', 'E'] },
  period: { type: Period },
  recorded: { type: 'instant', min: 1 },
  outcome: { type: 'code', codes: ['0', '4', '8', '12'] },
  outcomeDesc: { type: 'string' },
  purposeOfEvent: { type: CodeableConcept, many: true },
  agent: { type: Agent, min: 1, many: true },
  source: { type: Source, min: 1 },
  entity: { type: Entity, many: true },
})

const BundleLink = struct('Bundle.link', 'backbone', {
  relation: { type: 'string', min: 1 },
  url: { type: 'uri', min: 1 },
})

const BundleEntry = struct('Bundle.entry', 'backbone', {
  link: { type: BundleLink, many: true },
  fullUrl: { type: 'uri' },
  resource: { type: 'Resource' },
  search: {
    type: struct('Bundle.entry.search', 'backbone', {
      mode: { type: 'code', codes: SEARCH_MODE },
      score: { type: 'decimal' },
    }),
  },
  request: {
    type: struct('Bundle.entry.request', 'backbone', {
      method: { type: 'code', min: 1, codes: HTTP_VERB },
      url: { type: 'uri', min: 1 },
      ifNoneMatch: { type: 'string' },
      ifModifiedSince: { type: 'instant' },
      ifMatch: { type: 'string' },
      ifNoneExist: { type: 'string' },
    }),
  },
  response: {
    type: struct('Bundle.entry.response', 'backbone', {
      status: { type: 'string', min: 1 },
      location: { type: 'uri' },
      etag: { type: 'string' },
      lastModified: { type: 'instant' },
      outcome: { type: 'Resource' },
    }),
  },
})

/** Bundle is a Resource, not a DomainResource: it has no text, contained or extension. */
export const Bundle = struct('Bundle', 'resource', {
  identifier: { type: Identifier },
  type: { type: 'code', min: 1, codes: BUNDLE_TYPES },
  timestamp: { type: 'instant' },
  total: { type: 'unsignedInt' },
  link: { type: BundleLink, many: true },
  entry: { type: BundleEntry, many: true },
  signature: { type: Signature },
})
