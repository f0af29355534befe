import { primitiveProblem } from './primitives.ts'
import {
  AuditEvent,
  Bundle,
  type ElementDef,
  EXTENSION_VALUE_TYPES,
  Meta,
  Narrative,
  type Structure,
} from './r4-structure.ts'
import type { FhirIssue } from './types.ts'

/**
 * Structural validation of FHIR R4 JSON (hl7.org/fhir/R4/json.html): every element known to
 * the R4 definition, with its cardinality, JSON shape and datatype format, required bindings
 * from their value sets, and the invariants that a structure can decide (ele-1, ext-1, per-1,
 * sev-1, bdl-1..5, bdl-7). Modifier extensions and implicitRules are refused: they may change
 * the meaning of what we would store, and we understand none of them. Contained resources are
 * accepted unchecked. Pure: used by the node and by the browser client.
 */

/** Issues with an AuditEvent resource, each naming its element (`AuditEvent.agent[0].who`). */
export function validateAuditEvent(resource: unknown, where = 'AuditEvent'): FhirIssue[] {
  const issues: FhirIssue[] = []
  checkResource(resource, AuditEvent(), where, issues)
  return issues
}

/** Issues with a Bundle whose every entry holds an AuditEvent (`Bundle.entry[2].resource.recorded`). */
export function validateAuditEventBundle(bundle: unknown): FhirIssue[] {
  const issues: FhirIssue[] = []
  if (!checkResource(bundle, Bundle(), 'Bundle', issues)) return issues
  const b = bundle as { type?: unknown; total?: unknown; entry?: unknown }
  checkBundleRules(b, issues)
  if (!Array.isArray(b.entry)) return issues
  b.entry.forEach((entry: unknown, i) => {
    const resource = isObject(entry) ? entry.resource : undefined
    if (resource === undefined) return
    const path = `Bundle.entry[${i}].resource`
    if (isObject(resource) && resource.resourceType !== 'AuditEvent') {
      const got = JSON.stringify(resource.resourceType)
      issues.push({ field: path, problem: `is a ${got} resource: want AuditEvent` })
    } else {
      checkResource(resource, AuditEvent(), path, issues)
    }
  })
  return issues
}

type Issues = FhirIssue[]
type Json = Record<string, unknown>

/** Checks resourceType and the structure; false when it is not even an object. */
function checkResource(value: unknown, s: Structure, path: string, issues: Issues): boolean {
  if (!isObject(value)) {
    issues.push({ field: path, problem: `must be a JSON object, got ${kindOf(value)}` })
    return false
  }
  if (value.resourceType !== s.name) {
    const got = value.resourceType === undefined ? 'missing' : JSON.stringify(value.resourceType)
    issues.push({ field: `${path}.resourceType`, problem: `is ${got}: want "${s.name}"` })
  }
  checkStructure(value, s, path, issues)
  return true
}

const ELEMENT_BASE: Record<string, ElementDef> = {
  id: { type: 'string' },
  extension: { type: 'Extension', many: true },
}
const BACKBONE_BASE: Record<string, ElementDef> = {
  ...ELEMENT_BASE,
  modifierExtension: { type: 'Extension', many: true },
}
const RESOURCE_BASE: Record<string, ElementDef> = {
  id: { type: 'id' },
  meta: { type: Meta },
  implicitRules: { type: 'uri' },
  language: { type: 'code' },
}
const DOMAIN_RESOURCE_BASE: Record<string, ElementDef> = {
  ...RESOURCE_BASE,
  text: { type: Narrative },
  contained: { type: 'Resource', many: true },
  extension: { type: 'Extension', many: true },
  modifierExtension: { type: 'Extension', many: true },
}
const BASES = {
  element: ELEMENT_BASE,
  backbone: BACKBONE_BASE,
  resource: RESOURCE_BASE,
  domainResource: DOMAIN_RESOURCE_BASE,
} as const

const elementCache = new WeakMap<Structure, Record<string, ElementDef>>()
function elementsOf(s: Structure): Record<string, ElementDef> {
  let all = elementCache.get(s)
  if (!all) {
    all = { ...BASES[s.base], ...s.elements }
    elementCache.set(s, all)
  }
  return all
}

function checkStructure(obj: Json, s: Structure, path: string, issues: Issues): void {
  const isResource = s.base === 'resource' || s.base === 'domainResource'
  const elements = elementsOf(s)
  const keys = Object.keys(obj).filter((k) => !(isResource && k === 'resourceType'))
  if (keys.length === 0) {
    issues.push({ field: path, problem: 'is empty: an element needs a value or children (ele-1)' })
    return
  }
  const choices = new Map<string, string[]>()
  for (const key of keys) {
    if (key.startsWith('_')) {
      checkPrimitiveExtension(obj[key], elements[key.slice(1)], s, `${path}.${key}`, issues)
      continue
    }
    const def = elements[key]
    if (!def) {
      issues.push({ field: `${path}.${key}`, problem: `is not an element of ${s.name} in R4` })
      continue
    }
    if (def.choice) choices.set(def.choice, [...(choices.get(def.choice) ?? []), key])
    checkElement(obj[key], def, `${path}.${key}`, issues)
  }
  for (const [name, def] of Object.entries(elements)) {
    if (def.min !== 1 || obj[name] !== undefined) continue
    if (!def.choice) {
      issues.push({
        field: `${path}.${name}`,
        problem: `is missing: ${s.name}.${name} is required`,
      })
    } else if (!choices.has(def.choice)) {
      // Reported once per group: the first missing member stands for all of them.
      choices.set(def.choice, [])
      issues.push({ field: `${path}.${def.choice}[x]`, problem: 'is missing: one is required' })
    }
  }
  for (const [group, present] of choices) {
    if (present.length > 1) {
      issues.push({
        field: `${path}.${group}[x]`,
        problem: `has ${present.join(' and ')}: want one`,
      })
    }
  }
  checkModifiers(obj, path, issues)
  INVARIANTS[s.name]?.(obj, path, issues)
}

/** An R4 rule: an application SHALL NOT accept content whose modifiers it does not understand. */
function checkModifiers(obj: Json, path: string, issues: Issues): void {
  if (Array.isArray(obj.modifierExtension)) {
    obj.modifierExtension.forEach((ext: unknown, i) => {
      const url = isObject(ext) ? JSON.stringify(ext.url) : 'unknown'
      issues.push({
        field: `${path}.modifierExtension[${i}]`,
        problem: `(url ${url}) is not understood: a modifier extension changes the meaning of its element, and ehrlog understands none`,
      })
    })
  }
  if (typeof obj.implicitRules === 'string') {
    issues.push({
      field: `${path}.implicitRules`,
      problem: `is ${JSON.stringify(obj.implicitRules)}: the resource follows rules ehrlog does not know, so it cannot be read safely`,
    })
  }
}

function checkElement(value: unknown, def: ElementDef, path: string, issues: Issues): void {
  if (!def.many) {
    if (Array.isArray(value)) {
      issues.push({ field: path, problem: 'must be a single value, not an array (max 1)' })
    } else {
      checkValue(value, def, path, issues)
    }
    return
  }
  if (!Array.isArray(value)) {
    issues.push({ field: path, problem: `must be an array, got ${kindOf(value)}` })
    return
  }
  if (value.length === 0) {
    issues.push({ field: path, problem: 'is an empty array: leave the element out instead' })
  }
  value.forEach((item, i) => {
    checkValue(item, def, `${path}[${i}]`, issues)
  })
}

function checkValue(value: unknown, def: ElementDef, path: string, issues: Issues): void {
  const { type } = def
  if (type === 'Extension') {
    checkExtension(value, path, issues)
  } else if (type === 'Resource') {
    if (!isObject(value) || typeof value.resourceType !== 'string') {
      issues.push({ field: path, problem: 'must be a resource: an object with a resourceType' })
    }
  } else if (typeof type === 'function') {
    if (isObject(value)) {
      checkStructure(value, type(), path, issues)
    } else {
      issues.push({
        field: path,
        problem: `must be an object (${type().name}), got ${kindOf(value)}`,
      })
    }
  } else {
    const problem = primitiveProblem(value, type)
    if (problem) {
      issues.push({ field: path, problem })
    } else if (def.codes && !def.codes.includes(value as string)) {
      issues.push({
        field: path,
        problem: `is ${JSON.stringify(value)}: want one of ${def.codes.join(', ')} (required binding)`,
      })
    }
  }
}

/** ext-1: an extension has a url and either one value[x] or nested extensions, not both. */
function checkExtension(value: unknown, path: string, issues: Issues): void {
  if (!isObject(value)) {
    issues.push({ field: path, problem: `must be an object (Extension), got ${kindOf(value)}` })
    return
  }
  const urlProblem = primitiveProblem(value.url, 'uri')
  if (urlProblem) issues.push({ field: `${path}.url`, problem: urlProblem })
  const values = Object.keys(value).filter((k) => /^value[A-Z]/.test(k))
  const nested = value.extension !== undefined
  if (values.length + (nested ? 1 : 0) !== 1) {
    issues.push({
      field: path,
      problem: `has ${values.length} value[x] and ${nested ? 'nested' : 'no'} extensions: want one value[x] or nested extensions (ext-1)`,
    })
  }
  for (const key of Object.keys(value)) {
    if (key === 'url' || key === 'id' || key === 'extension' || key.startsWith('_')) continue
    const typeName = key.slice('value'.length)
    const valueType = values.includes(key) ? EXTENSION_VALUE_TYPES[typeName] : undefined
    if (valueType === undefined) {
      issues.push({ field: `${path}.${key}`, problem: 'is not an element of Extension in R4' })
    } else if (valueType === null) {
      if (!isObject(value[key]))
        issues.push({ field: `${path}.${key}`, problem: 'must be an object' })
    } else {
      checkValue(value[key], { type: valueType }, `${path}.${key}`, issues)
    }
  }
  if (nested)
    checkElement(value.extension, { type: 'Extension', many: true }, `${path}.extension`, issues)
}

/** `_name` carries the id and extensions of the primitive `name` (R4 JSON §2.6.2.2). */
function checkPrimitiveExtension(
  value: unknown,
  def: ElementDef | undefined,
  s: Structure,
  path: string,
  issues: Issues,
): void {
  if (!def || typeof def.type !== 'string' || def.type === 'Extension' || def.type === 'Resource') {
    issues.push({ field: path, problem: `is not a primitive element of ${s.name} in R4` })
    return
  }
  const ok = def.many
    ? Array.isArray(value) && value.every((v) => v === null || isObject(v))
    : isObject(value)
  if (!ok) issues.push({ field: path, problem: 'must hold the primitive’s id and extensions' })
}

const INVARIANTS: Readonly<Record<string, (obj: Json, path: string, issues: Issues) => void>> = {
  // per-1: if present, start SHALL have a lower value than end.
  Period: (obj, path, issues) => {
    if (typeof obj.start !== 'string' || typeof obj.end !== 'string') return
    const [start, end] = [Date.parse(obj.start), Date.parse(obj.end)]
    if (start > end) issues.push({ field: path, problem: 'starts after it ends (per-1)' })
  },
  // sev-1: either a name or a query (NOT both).
  'AuditEvent.entity': (obj, path, issues) => {
    if (obj.name !== undefined && obj.query !== undefined) {
      issues.push({ field: path, problem: 'has both name and query: want one (sev-1)' })
    }
  },
}

/** bdl-1..5 and bdl-7: which parts of an entry each kind of bundle has. */
function checkBundleRules(
  b: { type?: unknown; total?: unknown; entry?: unknown },
  issues: Issues,
): void {
  const type = typeof b.type === 'string' ? b.type : ''
  if (b.total !== undefined && type !== 'searchset' && type !== 'history') {
    issues.push({
      field: 'Bundle.total',
      problem: `is only for searchset or history bundles, this is ${type} (bdl-1)`,
    })
  }
  if (!Array.isArray(b.entry)) return
  const needsRequest = ['batch', 'transaction', 'history'].includes(type)
  const needsResponse = ['batch-response', 'transaction-response', 'history'].includes(type)
  const fullUrls = new Map<string, number>()
  b.entry.forEach((entry: unknown, i) => {
    if (!isObject(entry)) return
    const path = `Bundle.entry[${i}]`
    if (entry.search !== undefined && type !== 'searchset') {
      issues.push({ field: `${path}.search`, problem: `is only for searchset bundles (bdl-2)` })
    }
    if ((entry.request !== undefined) !== needsRequest) {
      const problem = needsRequest
        ? `is missing: a ${type} entry needs one (bdl-3)`
        : `is not allowed in a ${type} bundle (bdl-3)`
      issues.push({ field: `${path}.request`, problem })
    }
    if ((entry.response !== undefined) !== needsResponse) {
      const problem = needsResponse
        ? `is missing: a ${type} entry needs one (bdl-4)`
        : `is not allowed in a ${type} bundle (bdl-4)`
      issues.push({ field: `${path}.response`, problem })
    }
    if (
      entry.resource === undefined &&
      entry.request === undefined &&
      entry.response === undefined
    ) {
      issues.push({ field: path, problem: 'has no resource, request or response (bdl-5)' })
    }
    if (typeof entry.fullUrl === 'string') {
      const first = fullUrls.get(entry.fullUrl)
      if (first !== undefined) {
        issues.push({
          field: `${path}.fullUrl`,
          problem: `repeats entry[${first}].fullUrl (bdl-7)`,
        })
      } else {
        fullUrls.set(entry.fullUrl, i)
      }
    }
  })
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
