import { EhrlogError } from '../core/errors.ts'

/** An RFC 5424 message: its header fields (undefined for NILVALUE "-") and its MSG bytes. */
export interface SyslogMessage {
  facility: number
  severity: number
  timestamp?: string
  hostname?: string
  appName?: string
  procId?: string
  msgId?: string
  structuredData: Array<{ id: string; params: Array<[string, string]> }>
  /** MSG, with a leading UTF-8 BOM removed (RFC 5424 §6.4 MSG-UTF8). */
  msg: Buffer
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf])
// RFC 5424 §6: FULL-DATE "T" FULL-TIME, TIME-SECFRAC at most 6 digits, Z or ±hh:mm.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/
// PRINTUSASCII is %d33-126; SD-NAME excludes '=', SP, ']' and '"' as well.
const PRINTUSASCII = /^[\x21-\x7e]+$/
const SD_NAME = /^[\x21-\x7e]{1,32}$/
const SD_NAME_EXCLUDED = /[= \]"]/

/**
 * Parses one RFC 5424 §6 SYSLOG-MSG strictly: PRI, VERSION 1, the five header fields with
 * their §6.2 lengths, STRUCTURED-DATA (§6.3, with its \" \\ \] escapes), and MSG. Anything
 * else is MESSAGE_INVALID naming the field. RFC 3164 (BSD) messages are refused: ATNA
 * (ITI-20) requires RFC 5424.
 */
export function parseSyslogMessage(frame: Buffer): SyslogMessage {
  // latin1: one character per byte, so indices are byte offsets; SD values are decoded as UTF-8.
  const text = frame.toString('latin1')
  const pri = /^<(\d{1,3})>1 /.exec(text)
  const prival = pri ? Number(pri[1]) : Number.NaN
  if (!pri || prival > 191 || (pri[1]!.length > 1 && pri[1]!.startsWith('0')))
    throw invalid('PRI', `want "<PRIVAL>1 " with PRIVAL 0..191 (RFC 5424 §6.2.1)`)
  let at = pri[0].length
  const field = (name: string, max: number): string | undefined => {
    const end = text.indexOf(' ', at)
    if (end === -1) throw invalid(name, 'message ends inside the header')
    const value = text.slice(at, end)
    at = end + 1
    if (value === '-') return undefined
    if (value.length > max || !PRINTUSASCII.test(value))
      throw invalid(name, `want NILVALUE or 1..${max} printable US-ASCII characters`)
    return value
  }
  const timestamp = field('TIMESTAMP', 40)
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp))
    throw invalid('TIMESTAMP', `${JSON.stringify(timestamp)} is not an RFC 5424 §6.2.3 TIMESTAMP`)
  const hostname = field('HOSTNAME', 255)
  const appName = field('APP-NAME', 48)
  const procId = field('PROCID', 128)
  const msgId = field('MSGID', 32)
  const structuredData: SyslogMessage['structuredData'] = []
  if (text.startsWith('-', at)) at += 1
  else if (text[at] !== '[') throw invalid('STRUCTURED-DATA', 'want NILVALUE or SD-ELEMENT')
  while (text[at] === '[') at = readElement(frame, text, at + 1, structuredData)
  let msg: Buffer
  if (at === text.length) msg = Buffer.alloc(0)
  else if (text[at] === ' ') msg = frame.subarray(at + 1)
  else throw invalid('STRUCTURED-DATA', 'want SP or the end after STRUCTURED-DATA')
  if (msg.subarray(0, 3).equals(BOM)) msg = msg.subarray(3)
  return {
    facility: prival >> 3,
    severity: prival & 7,
    ...(timestamp && { timestamp }),
    ...(hostname && { hostname }),
    ...(appName && { appName }),
    ...(procId && { procId }),
    ...(msgId && { msgId }),
    structuredData,
    msg,
  }
}

/** Reads one SD-ELEMENT after its "["; returns the index after its "]". */
function readElement(
  frame: Buffer,
  text: string,
  start: number,
  out: SyslogMessage['structuredData'],
): number {
  let at = start
  const name = (what: string): string => {
    let end = at
    while (end < text.length && !SD_NAME_EXCLUDED.test(text[end]!)) end++
    const value = text.slice(at, end)
    if (!SD_NAME.test(value)) throw invalid('STRUCTURED-DATA', `bad ${what} (RFC 5424 §6.3)`)
    at = end
    return value
  }
  const id = name('SD-ID')
  const params: Array<[string, string]> = []
  while (text[at] === ' ') {
    at++
    const param = name('PARAM-NAME')
    if (text.slice(at, at + 2) !== '="') throw invalid('STRUCTURED-DATA', 'want ="PARAM-VALUE"')
    at += 2
    const bytes: number[] = []
    for (;;) {
      if (at >= text.length) throw invalid('STRUCTURED-DATA', 'PARAM-VALUE is not closed')
      const c = frame[at]!
      if (c === 0x22) break
      // §6.3.3: only \" \\ \] are escapes; a backslash before anything else is kept.
      if (c === 0x5c && [0x22, 0x5c, 0x5d].includes(frame[at + 1] ?? -1)) at++
      bytes.push(frame[at]!)
      at++
    }
    at++
    params.push([param, Buffer.from(bytes).toString('utf8')])
  }
  if (text[at] !== ']') throw invalid('STRUCTURED-DATA', 'want "]" closing SD-ELEMENT')
  out.push({ id, params })
  return at + 1
}

function invalid(field: string, problem: string): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `syslog ${field}: ${problem}`, {
    details: { field },
  })
}
