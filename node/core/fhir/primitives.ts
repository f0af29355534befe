import type { Primitive } from './r4-structure.ts'

// R4 datatype regexes (hl7.org/fhir/R4/datatypes.html), anchored. FHIR strings may hold any
// character but the C0 controls other than tab, CR and LF.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/
const CODE = /^[^ \t\r\n]+( [^ \t\r\n]+)*$/
const ID = /^[A-Za-z0-9\-.]{1,64}$/
const URI = /^[^ \t\r\n]+$/
const BASE64 = /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/
const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)'
const TIME_ZONE = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))'
const TIME = `([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?${TIME_ZONE}`
const INSTANT = new RegExp(`^${YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T${TIME}$`)
const DATE_TIME = new RegExp(
  `^${YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T${TIME})?)?)?$`,
)

const FORMATS: Record<'instant' | 'dateTime', { pattern: RegExp; want: string }> = {
  instant: { pattern: INSTANT, want: 'an instant, YYYY-MM-DDThh:mm:ss[.f] with Z or ±hh:mm' },
  dateTime: { pattern: DATE_TIME, want: 'a dateTime, YYYY[-MM[-DD[Thh:mm:ss[.f]±hh:mm]]]' },
}

/** What is wrong with a JSON value as an R4 primitive of `type`; undefined when nothing is. */
export function primitiveProblem(value: unknown, type: Primitive): string | undefined {
  const got = JSON.stringify(value)?.slice(0, 40) ?? 'undefined'
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `is ${got}: want true or false`
    case 'integer':
    case 'unsignedInt':
      return Number.isSafeInteger(value) && (type === 'integer' || (value as number) >= 0)
        ? undefined
        : `is ${got}: want ${type === 'integer' ? 'an integer' : 'an integer ≥ 0'}`
    case 'decimal':
      return typeof value === 'number' && Number.isFinite(value)
        ? undefined
        : `is ${got}: want a number`
  }
  if (typeof value !== 'string') return `is ${got}: want a ${type} string`
  if (value.length === 0) return 'is an empty string: leave the element out instead (ele-1)'
  switch (type) {
    case 'string':
      return CONTROL.test(value) ? 'contains a control character' : undefined
    case 'code':
      return CODE.test(value)
        ? undefined
        : `is ${got}: want a code (no leading, trailing or double white space)`
    case 'id':
      return ID.test(value) ? undefined : `is ${got}: want an id, 1-64 of A-Z a-z 0-9 - .`
    case 'uri':
      return URI.test(value) ? undefined : `is ${got}: want a uri without white space`
    case 'base64Binary':
      return BASE64.test(value) ? undefined : `is not base64`
    case 'xhtml':
      return /^\s*<div[\s>]/.test(value) ? undefined : 'must be an XHTML <div> element'
    case 'instant':
    case 'dateTime': {
      const { pattern, want } = FORMATS[type]
      if (!pattern.test(value)) return `is ${got}: want ${want}`
      return isRealDate(value) ? undefined : `is ${got}: not a real date`
    }
  }
}

/** The regexes let 2023-02-30 through; a real day survives a round trip through the calendar. */
function isRealDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s)
  if (!m) return true
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const day = new Date(0)
  day.setUTCFullYear(y, mo - 1, d)
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d
}
