import { EhrlogError } from '../errors.ts'
import { ACTIONS, type Action } from '../event.ts'
import { FHIR_MAPPINGS, type FhirMapping } from './balp.ts'
import {
  ACTION_MAP,
  EHRLOG_ACTION_SYSTEM,
  FHIR_ACTIONS,
  LOGIN,
  LOGOUT,
  OUTCOME_OF_FHIR,
  SYSTEMS,
} from './codes.ts'

/**
 * FHIR AuditEvent search (IHE ITI-81) as an ehrlog query filter (docs/fhir.md, "Search").
 * Pure: the node maps a request's parameters with it, and a verifier maps the Bundle's self
 * link with it to learn what every entry must match. Values are checked again, as any
 * filter is, by parseQueryFilter.
 */

/** The opaque paging parameter of the `next` link (a query cursor). */
export const CURSOR_PARAM = '_cursor'

export const SEARCH_PARAMS = [
  'patient',
  'entity',
  'entity.identifier',
  'agent',
  'agent.identifier',
  'date',
  'type',
  'subtype',
  'action',
  'outcome',
  '_count',
  CURSOR_PARAM,
  '_format',
  'mapping',
] as const

/** `_format` values naming the only format answered, FHIR JSON (R4 http.html#mime). */
const JSON_FORMATS = ['json', 'application/json', 'application/fhir+json']

/** The parsed search: filter fields for parseQueryFilter, the page size and the cursor. */
export interface FhirSearch {
  filter: Record<string, string>
  count?: string
  cursor?: string
  /** How entries are shown (`mapping=balp`: BALP profiles where they fit; absent: ehrlog). Not a filter. */
  mapping?: FhirMapping
}

const PREFIXES = ['eq', 'ge', 'gt', 'le', 'lt'] as const
type Prefix = (typeof PREFIXES)[number]

/** Parameters given at most once; the others repeat as FHIR's AND (date: both bounds). */
const SINGLE = ['outcome', '_count', CURSOR_PARAM, '_format', 'mapping'] as const

/**
 * Maps search parameters (each name with every value it was given) to a query. Unknown
 * parameters, modifiers (`:exact`, `:missing`), a repeated single-valued parameter,
 * malformed values and contradictions (two different patients; a type and an action that
 * name no common ehrlog action) are ARGUMENT_INVALID naming the parameter: FHIR lets a
 * server refuse what it does not support, and silently ignoring a criterion would widen the
 * answer.
 */
export function parseFhirSearch(params: ReadonlyMap<string, readonly string[]>): FhirSearch {
  const out: FhirSearch = { filter: {} }
  const patients = new Set<string>()
  const actors = new Set<string>()
  let actions: Set<Action> | undefined
  const narrow = (name: string, allowed: Iterable<Action>) => {
    const next = new Set(allowed)
    actions = actions === undefined ? next : new Set([...actions].filter((a) => next.has(a)))
    if (actions.size === 0)
      throw invalid(
        name,
        'together with the other type, subtype and action parameters matches no event',
      )
  }
  let from: number | undefined
  let to: number | undefined
  for (const [name, values] of params) {
    if (!(SEARCH_PARAMS as readonly string[]).includes(name)) {
      const hint = name.includes(':') ? ' (modifiers are not supported)' : ''
      throw invalid(
        name,
        `is not a supported search parameter${hint}: want ${SEARCH_PARAMS.join(', ')}`,
      )
    }
    if (values.length > 1 && (SINGLE as readonly string[]).includes(name))
      throw invalid(name, 'is given more than once')
    for (const value of values) {
      if (value === '') throw invalid(name, 'is empty')
      switch (name) {
        case 'patient':
        case 'entity':
          patients.add(patientOfReference(name, value))
          break
        case 'entity.identifier':
          patients.add(identifierValue(name, value))
          break
        case 'agent':
          actors.add(value)
          break
        case 'agent.identifier':
          actors.add(identifierValue(name, value))
          break
        case 'date': {
          const { prefix, start, end } = parseDate(value)
          // The value spans [start, end): ge/eq from its start, gt after its end; lt before
          // its start, le/eq up to its end. Repeats narrow (AND).
          const low = prefix === 'ge' || prefix === 'eq' ? start : prefix === 'gt' ? end : undefined
          const high =
            prefix === 'lt' ? start : prefix === 'le' || prefix === 'eq' ? end : undefined
          if (low !== undefined) from = Math.max(from ?? low, low)
          if (high !== undefined) to = Math.min(to ?? high, high)
          break
        }
        case 'type':
          narrow(name, union(name, value, actionsOfType))
          break
        case 'subtype':
          narrow(name, union(name, value, actionsOfSubtype))
          break
        case 'action':
          narrow(name, union(name, value, actionsOfFhirAction))
          break
        case 'outcome': {
          const outcomes = new Set(
            value.split(',').map((code) => {
              const o = OUTCOME_OF_FHIR[code as keyof typeof OUTCOME_OF_FHIR]
              if (!o) throw invalid(name, `has ${JSON.stringify(code)}: want 0, 4, 8 or 12`)
              return o
            }),
          )
          if (outcomes.size === 1) out.filter.outcome = [...outcomes][0]!
          break
        }
        case '_count':
          out.count = value
          break
        case CURSOR_PARAM:
          out.cursor = value
          break
        case '_format':
          // An unencoded `+` arrives as a space: application/fhir json.
          if (!JSON_FORMATS.includes(value.split(';')[0]!.trim().replace(' ', '+')))
            throw invalid(name, `is ${clip(value)}: only FHIR JSON is answered (json)`)
          break
        case 'mapping':
          if (!(FHIR_MAPPINGS as readonly string[]).includes(value))
            throw invalid(name, `is ${clip(value)}: want ${FHIR_MAPPINGS.join(' or ')}`)
          out.mapping = value as FhirMapping
          break
      }
    }
  }
  if (patients.size > 1) throw invalid('patient', 'names two different patients: want one')
  if (actors.size > 1) throw invalid('agent', 'names two different agents: want one')
  if (patients.size === 1) out.filter.patient = [...patients][0]!
  if (actors.size === 1) out.filter.actor = [...actors][0]!
  const chosen = actions as Set<Action> | undefined
  if (chosen !== undefined && chosen.size < ACTIONS.length)
    out.filter.action = [...chosen].sort().join(',')
  if (from !== undefined) out.filter.from = new Date(from).toISOString()
  if (to !== undefined) out.filter.to = new Date(to).toISOString()
  if (from !== undefined && to !== undefined && from >= to)
    throw invalid('date', 'bounds leave no time between them')
  return out
}

/** Name/value pairs (a URL's search params) grouped by name, in order of first appearance. */
export function groupParams(pairs: Iterable<[string, string]>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [name, value] of pairs) out.set(name, [...(out.get(name) ?? []), value])
  return out
}

/** `Patient/<id>`, or a bare id: the patient's id (a logical id, as ehrlog writes entities). */
function patientOfReference(name: string, value: string): string {
  const slash = value.lastIndexOf('/')
  if (slash < 0) return value
  const type = value.slice(0, slash).split('/').at(-1)
  if (type !== 'Patient') throw invalid(name, `is ${clip(value)}: want Patient/<id> or an id`)
  const id = value.slice(slash + 1)
  if (id === '') throw invalid(name, 'has no id after Patient/')
  return id
}

/**
 * A token `[system]|value` or `value`: the value. ehrlog keeps one identifier namespace per
 * network (the EHRs' patient or actor ids), so the system is not compared: CH:ATC's
 * `entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|761337610411265304` finds the
 * entries whose patientId is `761337610411265304`.
 */
function identifierValue(name: string, value: string): string {
  const bar = value.indexOf('|')
  const id = bar < 0 ? value : value.slice(bar + 1)
  if (id === '') throw invalid(name, 'has no value: want [system]|value')
  return id
}

/** DICOM event ids (AuditEvent.type) as ehrlog writes them: 110110 is six actions. */
function actionsOfType(code: string, system: string | undefined): Action[] | undefined {
  if (system !== undefined && system !== SYSTEMS.dicom) return undefined
  const found = ACTIONS.filter((a) => ACTION_MAP[a].type.code === code)
  return found.length > 0 ? found : undefined
}

function actionsOfSubtype(code: string, system: string | undefined): Action[] | undefined {
  if (system === undefined || system === EHRLOG_ACTION_SYSTEM)
    if ((ACTIONS as readonly string[]).includes(code)) return [code as Action]
  if (system === undefined || system === SYSTEMS.dicom) {
    if (code === LOGIN.code) return ['login']
    if (code === LOGOUT.code) return ['logout']
  }
  return undefined
}

function actionsOfFhirAction(code: string, system: string | undefined): Action[] | undefined {
  if (system !== undefined || !(FHIR_ACTIONS as readonly string[]).includes(code)) return undefined
  return ACTIONS.filter((a) => ACTION_MAP[a].action === code)
}

/**
 * A token list `a,b` (FHIR: any of them): the ehrlog actions it names. A code ehrlog never
 * writes is refused, not answered empty: it is most likely a typo or another code system.
 */
function union(
  name: string,
  value: string,
  actionsOf: (code: string, system: string | undefined) => Action[] | undefined,
): Set<Action> {
  const out = new Set<Action>()
  for (const token of value.split(',')) {
    const bar = token.indexOf('|')
    const system = bar < 0 ? undefined : token.slice(0, bar)
    const code = bar < 0 ? token : token.slice(bar + 1)
    const found = actionsOf(code, system === '' ? undefined : system)
    if (!found) throw invalid(name, `has ${clip(token)}: not a code ehrlog writes (docs/fhir.md)`)
    for (const a of found) out.add(a)
  }
  return out
}

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/

/**
 * A date search value: prefix (eq when none) and the interval [start, end) in ms that its
 * precision spans (FHIR search: "the range of the search value"). Dates without a time are
 * read in UTC; a time needs its zone.
 */
export function parseDate(text: string): { prefix: Prefix; start: number; end: number } {
  const head = text.slice(0, 2)
  const prefixed = /^[a-z]{2}/.test(head)
  if (prefixed && !(PREFIXES as readonly string[]).includes(head))
    throw invalid('date', `has prefix ${clip(head)}: want ge, gt, le, lt or eq`)
  const prefix: Prefix = prefixed ? (head as Prefix) : 'eq'
  // A `+` of a zone sent unencoded arrives as a space (form encoding): read it as the `+`.
  const value = (prefixed ? text.slice(2) : text).replace(/ (\d{2}:\d{2})$/, '+$1')
  const m = DATE.exec(value)
  if (!m)
    throw invalid('date', `is ${clip(text)}: want [prefix]YYYY[-MM[-DD[Thh:mm[:ss[.s]]zone]]]`)
  const [, y, mo, d, h, mi, s, frac, zone] = m
  const n = (v: string | undefined, dflt: number) => (v === undefined ? dflt : Number(v))
  const ms = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000)
  const offset = zone === undefined || zone === 'Z' ? 0 : zoneMinutes(zone)
  const start =
    Date.UTC(n(y, 0), n(mo, 1) - 1, n(d, 1), n(h, 0), n(mi, 0), n(s, 0), ms) - offset * 60_000
  const check = new Date(start + offset * 60_000)
  if (
    Number.isNaN(start) ||
    check.getUTCMonth() !== n(mo, 1) - 1 ||
    check.getUTCDate() !== n(d, 1) ||
    n(h, 0) > 23 ||
    n(mi, 0) > 59 ||
    n(s, 0) > 59
  )
    throw invalid('date', `is ${clip(text)}: not a calendar date and time`)
  const end = new Date(start)
  if (frac !== undefined) end.setTime(start + 1)
  else if (s !== undefined) end.setTime(start + 1000)
  else if (mi !== undefined) end.setTime(start + 60_000)
  else if (d !== undefined) end.setTime(start + 86_400_000)
  else if (mo !== undefined) end.setUTCMonth(end.getUTCMonth() + 1)
  else end.setUTCFullYear(end.getUTCFullYear() + 1)
  return { prefix, start, end: end.getTime() }
}

function zoneMinutes(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
}

function clip(text: string): string {
  return JSON.stringify(text.slice(0, 60))
}

function invalid(param: string, problem: string): EhrlogError {
  return new EhrlogError('ARGUMENT_INVALID', `${param} ${problem}`, { details: { field: param } })
}
