import { createHash } from 'node:crypto'
import MailComposer from 'nodemailer/lib/mail-composer'
import { toHex } from '../core/hex.ts'
import type { Incident } from './incident.ts'
import { seqRangeOf } from './incident.ts'
import { adviceOf, KIND_TEXTS, repairStatusOf, subjectOf } from './kind-texts.ts'

/** Ids listed in the body; all of them are in evidence.json. */
const IDS_IN_BODY = 1000
/**
 * RFC 5322 recommends lines of at most 78 characters; at 76 nodemailer also keeps ASCII text
 * 7bit rather than quoted-printable, so an outbox .eml reads as plain text in a terminal.
 */
const LINE_WIDTH = 76

export interface RenderOptions {
  /** incidentId(incident): also the Message-ID, so a resent duplicate is recognisably one. */
  id: string
  from: string
  /** Admins; may be empty (the message then goes to the outbox only). */
  to: readonly string[]
  /** The Date header. */
  date: Date
}

/**
 * The alert as RFC 5322 bytes (CRLF): a plain-text body in the prototype's words and the
 * evidence as evidence.json. Expects a normalizeIncident() result.
 */
export async function renderAlertEmail(
  incident: Incident,
  options: RenderOptions,
): Promise<Buffer> {
  const evidence = evidenceJson(incident, options.id)
  const composer = new MailComposer({
    from: options.from,
    ...(options.to.length > 0 ? { to: [...options.to] } : {}),
    subject: subjectOf(incident),
    date: options.date,
    messageId: `<${options.id}@${incident.reportingNode}.ehrlog>`,
    headers: {
      // RFC 3834: no vacation auto-replies to a machine; and ask clients to show it first.
      'Auto-Submitted': 'auto-generated',
      'X-Priority': '1 (Highest)',
      Importance: 'high',
      'X-Ehrlog-Incident': options.id,
      'X-Ehrlog-Kind': incident.kind,
    },
    text: alertText(incident, options.id, createHash('sha256').update(evidence).digest('hex')),
    // Quoted-printable over base64 when a summary has non-ASCII text: the .eml stays readable.
    textEncoding: 'Q',
    attachments: [
      { filename: 'evidence.json', content: evidence, contentType: 'application/json' },
    ],
    newline: 'windows',
  })
  return composer.compile().build()
}

/** The plain-text body: what happened, where, which entries, when, and what to do. */
export function alertText(incident: Incident, id: string, evidenceSha256: string): string {
  const [first, ...rest] = KIND_TEXTS[incident.kind].opening
  const range = seqRangeOf(incident)
  const ids = incident.entryIds
  const listed = ids.slice(0, IDS_IN_BODY).join(', ')
  const more =
    ids.length > IDS_IN_BODY
      ? `, ... and ${ids.length - IDS_IN_BODY} more (all in evidence.json)`
      : ''
  const seqRange = range
    ? range.seqFrom === range.seqTo
      ? `${range.seqFrom}`
      : `${range.seqFrom}-${range.seqTo}`
    : 'none (the incident concerns tree heads or checkpoints)'
  const lines = [
    ...wrap(`${KIND_TEXTS[incident.kind].tag} ${first}`, ''),
    ...rest,
    // A recovery is news, not a call to act.
    ...(incident.kind === 'quorum-recovered' ? [] : ['Immediate action needs to be taken']),
    '',
    ...wrap(incident.summary, ''),
    '',
    `Reporting node: ${incident.reportingNode}`,
    `Origin: ${incident.origin}`,
    ...wrap(`Seq range: ${seqRange}`, '  '),
    ...wrap(`Compromised log ids: ${ids.length > 0 ? listed + more : 'none'}`, '  '),
    `Detected at: ${incident.detectedAt}`,
    ...wrap(`Repair: ${repairStatusOf(incident)}`, '  '),
    `Incident: ${id}`,
    '',
    'What to do:',
    ...adviceOf(incident).flatMap((step) => wrap(`- ${step}`, '  ')),
    '',
    'Evidence: evidence.json (attached), SHA-256:',
    `  ${evidenceSha256}`,
    '',
    '-- ',
    `ehrlog node ${incident.reportingNode}`,
  ]
  // 7bit plain text (docs/alerts.md): only ASCII, no line over 76 characters, or the mail
  // library falls back to quoted-printable with soft breaks in the middle of words. Summaries
  // written by other parts may shorten hashes with an ellipsis: spelled as three dots here.
  return `${lines.join('\n').replaceAll('\u2026', '...')}\n`
}

/**
 * Wraps at spaces to LINE_WIDTH, continuation lines indented. A word longer than a line (a
 * hash, a list of ids without spaces) is cut into pieces that fit, so no line is longer.
 */
function wrap(line: string, indent: string): string[] {
  const out: string[] = []
  let current = ''
  const piece = LINE_WIDTH - indent.length
  const words = line
    .replaceAll('\u2026', '...')
    .split(' ')
    .flatMap((w) => (w.length <= piece ? [w] : (w.match(new RegExp(`.{1,${piece}}`, 'g')) ?? [])))
  for (const word of words) {
    if (current !== '' && current.length + 1 + word.length > LINE_WIDTH) {
      out.push(current)
      current = indent + word
    } else {
      current = current === '' ? word : `${current} ${word}`
    }
  }
  out.push(current)
  return out
}

/**
 * evidence.json: the whole incident (every entry id) and its evidence. Bytes become hex,
 * bigints strings. Evidence that cannot be serialised (a cycle) is replaced by the reason,
 * rather than losing the alert.
 */
export function evidenceJson(incident: Incident, id: string): string {
  const { evidence, ...fields } = incident
  try {
    return `${JSON.stringify({ incidentId: id, ...fields, evidence }, jsonSafe, 2)}\n`
  } catch (err) {
    const reason = `evidence could not be serialised: ${(err as Error).message}`
    return `${JSON.stringify({ incidentId: id, ...fields, evidence: { error: reason } }, null, 2)}\n`
  }
}

function jsonSafe(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON: a Buffer would otherwise arrive as {type, data}.
  const original = (this as Record<string, unknown>)[key]
  if (original instanceof Uint8Array) return toHex(original)
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  if (value instanceof Error) return { name: value.name, message: value.message }
  return value
}
