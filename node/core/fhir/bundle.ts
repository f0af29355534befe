import type { Entry } from '../entry.ts'
import { EhrlogError } from '../errors.ts'
import type { AuditEvent } from '../event.ts'
import type { ToFhirOptions } from './audit-event.ts'
import { type FhirMapping, toFhirAuditEventAs } from './balp.ts'
import { parseFhirAuditEvent, parseValidated, throwIfIssues } from './from-fhir.ts'
import type { FhirAuditEvent, FhirBundle } from './types.ts'
import { isObject, kindOf, validateAuditEventBundle } from './validate.ts'

/**
 * Event entries as a Bundle of type collection: a set of resources with no query or
 * transaction behind it. With `baseUrl` (the FHIR base, no trailing slash) each entry gets
 * fullUrl `<baseUrl>/AuditEvent/<id>`. `mapping: 'balp'` writes BALP profiles where one fits
 * (balp.ts).
 */
export function toFhirBundle(
  entries: readonly Entry<AuditEvent>[],
  opts: ToFhirOptions & { baseUrl?: string; mapping?: FhirMapping } = {},
): FhirBundle {
  const bundle: FhirBundle = { resourceType: 'Bundle', type: 'collection' }
  // An empty array is not allowed in FHIR JSON: no entries, no entry element.
  if (entries.length > 0) {
    bundle.entry = entries.map((entry) => {
      const resource = toFhirAuditEventAs(opts.mapping ?? 'ehrlog', entry, opts)
      const { baseUrl } = opts
      return baseUrl !== undefined && resource.id !== undefined
        ? { fullUrl: `${baseUrl}/AuditEvent/${resource.id}`, resource }
        : { resource }
    })
  }
  return bundle
}

/** The Bundle types that can carry AuditEvents to be recorded. */
export const INGEST_BUNDLE_TYPES = ['batch', 'transaction', 'collection'] as const

/**
 * Reads an ingest body: one AuditEvent, or a Bundle (batch, transaction or collection) of
 * them. Every resource is validated and mapped before any is returned, so a Bundle is taken
 * whole or not at all, not entry by entry as a FHIR batch would be. Throws EVENT_INVALID
 * naming the element, or PAYLOAD_TOO_LARGE past `maxResources` (checked before validating).
 */
export function parseFhirAuditEvents(
  body: unknown,
  opts: { maxResources: number },
): { events: AuditEvent[]; bundle: boolean } {
  if (!isObject(body)) {
    throw invalid('body', `must be a FHIR AuditEvent or Bundle resource, got ${kindOf(body)}`)
  }
  if (body.resourceType === 'AuditEvent') {
    return { events: [parseFhirAuditEvent(body)], bundle: false }
  }
  if (body.resourceType !== 'Bundle') {
    const got = body.resourceType === undefined ? 'missing' : JSON.stringify(body.resourceType)
    throw invalid('resourceType', `is ${got}: want "AuditEvent" or "Bundle"`)
  }
  const types: readonly unknown[] = INGEST_BUNDLE_TYPES
  if (!types.includes(body.type)) {
    throw invalid(
      'Bundle.type',
      `is ${JSON.stringify(body.type) ?? 'missing'}: want ${INGEST_BUNDLE_TYPES.join(', ')}`,
    )
  }
  const entries = body.entry
  if (!Array.isArray(entries) || entries.length === 0) {
    throw invalid('Bundle.entry', 'has no entries: want 1 or more AuditEvents')
  }
  if (entries.length > opts.maxResources) {
    throw new EhrlogError(
      'PAYLOAD_TOO_LARGE',
      `Bundle has ${entries.length} entries, the limit is ${opts.maxResources} per request`,
      { details: { field: 'Bundle.entry', count: entries.length, limit: opts.maxResources } },
    )
  }
  throwIfIssues(validateAuditEventBundle(body))
  const events = (entries as Record<string, unknown>[]).map((entry, i) => {
    const at = `Bundle.entry[${i}]`
    if (entry.resource === undefined)
      throw invalid(`${at}.resource`, 'is missing: want an AuditEvent')
    checkRequest(entry.request, at)
    return parseValidated(entry.resource as FhirAuditEvent, `${at}.resource`)
  })
  return { events, bundle: true }
}

/** A batch or transaction entry may only create an AuditEvent: POST AuditEvent, unconditionally. */
function checkRequest(request: unknown, at: string): void {
  if (!isObject(request)) return
  if (request.method !== 'POST') {
    throw invalid(
      `${at}.request.method`,
      `is ${JSON.stringify(request.method)}: ehrlog only creates AuditEvents, want POST`,
    )
  }
  const url = String(request.url)
  if (url !== 'AuditEvent' && !url.endsWith('/AuditEvent')) {
    throw invalid(`${at}.request.url`, `is ${JSON.stringify(url.slice(0, 100))}: want AuditEvent`)
  }
  const conditional = ['ifNoneExist', 'ifMatch', 'ifNoneMatch', 'ifModifiedSince'].find(
    (key) => request[key] !== undefined,
  )
  if (conditional) {
    throw invalid(
      `${at}.request.${conditional}`,
      'is not supported: an audit log records every event it is sent',
    )
  }
}

function invalid(field: string, problem: string): EhrlogError {
  return new EhrlogError('EVENT_INVALID', `${field} ${problem}`, {
    details: { field, issues: [{ field, problem }], issueCount: 1 },
  })
}
