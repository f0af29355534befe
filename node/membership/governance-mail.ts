import { createHash } from 'node:crypto'
import MailComposer from 'nodemailer/lib/mail-composer'
import { canonicalJson } from '../core/canonical-json.ts'
import { EhrlogError } from '../core/errors.ts'
import type { MembershipAlertKind, MembershipRecord } from '../core/trust/membership-record.ts'

/*
 * The emails of membership governance (docs/alerts.md, "Membership"): one per record a node
 * writes (a proposal seen, a signature taken, a change applied) and one per governance alert,
 * to this node's admins. Every member's node sends its own, so the admins of every member hear
 * of each step. Plain ASCII text and the signed proposal(s) as proposal.json.
 */

/** Subject tags; alerts are marked as such, the rest is news. */
export const GOVERNANCE_TAGS: Record<MembershipRecord['op'] | MembershipAlertKind, string> = {
  proposed: '[Membership Proposal]',
  signed: '[Membership Signature]',
  applied: '[Membership Changed]',
  'key-rotated': '[Membership Key Rotated]',
  alert: '[Membership Alert]',
  'membership-equivocation': '[Membership Equivocation]',
  'lost-key-rotation': '[Membership Alert: Lost Key]',
  'rotated-key-signature': '[Membership Alert: Rotated-Out Key Used]',
}

export interface GovernanceNotice {
  record: MembershipRecord
  /** This node's name (the sender). */
  node: string
  /** One line, after the tag. */
  subject: string
  /** The body's paragraphs (wrapped at 76 columns). */
  text: string[]
  /** Attached as proposal.json: the signed proposal(s) and anything else that proves it. */
  evidence: unknown
}

/** The notice's id: SHA-256 of the tag ehrlog/membership-notice/v1, 0x00, the record's JSON. */
export function noticeId(node: string, record: MembershipRecord): string {
  return createHash('sha256')
    .update('ehrlog/membership-notice/v1')
    .update(Buffer.from([0]))
    .update(canonicalJson({ node, record }))
    .digest('hex')
}

export function tagOf(record: MembershipRecord): string {
  return GOVERNANCE_TAGS[record.op === 'alert' ? record.alert : record.op]
}

/** RFC 5322 bytes of the notice (CRLF), for AlertService.notify. */
export async function renderNotice(
  notice: GovernanceNotice,
  envelope: { from: string; to: readonly string[]; date: Date },
): Promise<Buffer> {
  const id = noticeId(notice.node, notice.record)
  let evidence: string
  try {
    evidence = `${JSON.stringify(notice.evidence, null, 2)}\n`
  } catch (cause) {
    throw new EhrlogError('INTERNAL', 'a membership notice could not be serialised', { cause })
  }
  const alert = notice.record.op === 'alert'
  const composer = new MailComposer({
    from: envelope.from,
    ...(envelope.to.length > 0 ? { to: [...envelope.to] } : {}),
    subject: ascii(`${tagOf(notice.record)} ${notice.subject}`),
    date: envelope.date,
    messageId: `<${id}@${notice.node}.ehrlog>`,
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Ehrlog-Membership': notice.record.op === 'alert' ? notice.record.alert : notice.record.op,
      ...(alert ? { 'X-Priority': '1 (Highest)', Importance: 'high' } : {}),
    },
    text: `${[...notice.text.flatMap((p) => [...wrap(ascii(p)), '']), '-- ', `ehrlog node ${notice.node}`].join('\n')}\n`,
    attachments: [
      { filename: 'proposal.json', content: evidence, contentType: 'application/json' },
    ],
    newline: 'windows',
  })
  return composer.compile().build()
}

function ascii(text: string): string {
  return text.replaceAll('\u2026', '...').replace(/[^\x20-\x7e]/g, '?')
}

const WIDTH = 76

function wrap(line: string): string[] {
  const out: string[] = []
  let current = ''
  for (const word of line
    .split(' ')
    .flatMap((w) => (w.length <= WIDTH ? [w] : (w.match(/.{1,76}/g) ?? [])))) {
    if (current !== '' && current.length + 1 + word.length > WIDTH) {
      out.push(current)
      current = word
    } else current = current === '' ? word : `${current} ${word}`
  }
  out.push(current)
  return out
}
