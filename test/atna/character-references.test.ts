// Audit messages whose names are written with XML character references (XML 1.0 §4.1), as
// senders that escape everything outside ASCII write them, and attribute values with literal
// tabs and line breaks (§3.3.3): the events say what the XML means ("José", not "Jos&#233;"),
// the original bytes are kept as sent, and a reference to a character XML forbids is refused.
import { describe, expect, it } from 'vitest'
import { eventsOfAuditMessage, ParsePool } from '../../node/atna/index.ts'
import { parseFrames } from '../../node/atna/parse-frames.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { syslogOf } from './messages.ts'

/**
 * DICOM PS3.15 A.5.3's "Patient Record" message (EventID 110110, DCM) in the DICOM schema's
 * csd-code/originalText spelling, as in messages.ts, with names a Latin-1 sender escaped.
 */
const DICOM_ESCAPED = `<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage>
  <EventIdentification EventActionCode="R" EventDateTime="2026-12-01T11:05:00Z" EventOutcomeIndicator="0">
    <EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>
  </EventIdentification>
  <ActiveParticipant UserID="jgarcia" UserName="Jos&#233; Garc&#xED;a" UserIsRequestor="true" NetworkAccessPointID="192.0.2.31" NetworkAccessPointTypeCode="2">
    <RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditSourceID="EHR-ESCAPED"/>
  <ParticipantObjectIdentification ParticipantObjectID="PAT-0815^^^&#38;1.2.3.4&#38;ISO" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>
    <ParticipantObjectName>M&#252;ller^J&#xFC;rgen</ParticipantObjectName>
  </ParticipantObjectIdentification>
</AuditMessage>`

/**
 * RFC 3881 §5's element set in its code/displayName spelling (a PDQ query audit, as in
 * messages.ts), from an ASCII-only sender: a Japanese patient name in hexadecimal references,
 * one of them outside the BMP (U+20BB7, a surrogate pair in JavaScript), and a Swedish user.
 */
const RFC3881_ESCAPED = `<?xml version="1.0" encoding="US-ASCII"?>
<AuditMessage>
  <EventIdentification EventActionCode="E" EventDateTime="2026-12-01T11:06:00Z" EventOutcomeIndicator="0">
    <EventID code="110112" codeSystemName="DCM" displayName="Query"/>
    <EventTypeCode code="ITI-21" codeSystemName="IHE Transactions" displayName="Patient Demographics Query"/>
  </EventIdentification>
  <ActiveParticipant UserID="astrom" UserName="&#xC5;sa Str&#xF6;m" UserIsRequestor="true"/>
  <AuditSourceIdentification AuditSourceID="PDQ-CONSUMER"/>
  <ParticipantObjectIdentification ParticipantObjectID="PAT-4649" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode code="2"/>
    <ParticipantObjectName>&#x20BB7;&#x7530;^&#x592A;&#x90CE;</ParticipantObjectName>
  </ParticipantObjectIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="Q-4649" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24">
    <ParticipantObjectIDTypeCode code="ITI-21" codeSystemName="IHE Transactions" displayName="Patient Demographics Query"/>
    <ParticipantObjectQuery>UElEPXN0cm9t</ParticipantObjectQuery>
  </ParticipantObjectIdentification>
</AuditMessage>`

function refusal(xml: string): string {
  try {
    eventsOfAuditMessage(Buffer.from(xml))
  } catch (err) {
    return isEhrlogError(err) ? `${err.code} ${err.details.field}: ${err.message}` : 'other'
  }
  return 'accepted'
}

/** A field of the message's first event, or the refusal. */
function first(xml: string, field: 'actorName' | 'patientName'): string | undefined {
  const why = refusal(xml)
  return why === 'accepted' ? eventsOfAuditMessage(Buffer.from(xml))[0]![field] : why
}

describe('character references and attribute values, read as XML 1.0 says', () => {
  it('a DICOM message: "Jos&#233; Garc&#xED;a" is José García, "M&#252;ller" is Müller', () => {
    const xml = Buffer.from(DICOM_ESCAPED)
    const [event, ...more] = eventsOfAuditMessage(xml)
    expect(more).toEqual([])
    expect(event).toMatchObject({
      actorId: 'jgarcia',
      actorName: 'José García',
      patientName: 'Müller^Jürgen',
      // An HL7 CX with its subcomponent separator written as a reference.
      patientId: 'PAT-0815^^^&1.2.3.4&ISO',
      action: 'read',
      detail: 'Patient Record',
    })
    // The message as sent is kept whole: its hash and its bytes, references as written.
    expect(Buffer.from(event!.original!, 'base64').equals(xml)).toBe(true)
    expect(Buffer.from(event!.original!, 'base64').toString()).toContain('Jos&#233; Garc&#xED;a')
  })

  it('an RFC 3881 message: hexadecimal references, one outside the BMP', () => {
    const events = eventsOfAuditMessage(Buffer.from(RFC3881_ESCAPED))
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      actorName: 'Åsa Ström',
      patientName: '\u{20BB7}田^太郎',
      action: 'query',
      resourceId: 'Q-4649',
    })
    expect([...events[0]!.patientName!]).toHaveLength(5)
  })

  it('the same events on the parse thread, from the syslog frames', async () => {
    const frames = [syslogOf(DICOM_ESCAPED), syslogOf(RFC3881_ESCAPED)]
    const pool = new ParsePool(1)
    try {
      const parsed = await pool.parse(frames, 0)
      expect(pool.batchesOnThreads).toBe(1)
      expect(parsed).toEqual(parseFrames(frames))
      expect(
        parsed.map((p) => ('events' in p ? p.events[0]!.actorName : p.refused.reason)),
      ).toEqual(['José García', 'Åsa Ström'])
    } finally {
      await pool.close()
    }
  })

  it('an escaped "&" is not read twice; predefined entities and references mix', () => {
    const name = (written: string) =>
      eventsOfAuditMessage(Buffer.from(DICOM_ESCAPED.replace('Jos&#233; Garc&#xED;a', written)))[0]!
        .actorName
    expect(name('Jos&amp;#233;')).toBe('Jos&#233;')
    expect(name('O&apos;Brien &#38; Sons &lt;&#60;&#x3C;&gt;')).toBe("O'Brien & Sons <<<>")
    expect(name('&#74;&#x6F;&#x0073;&#233;')).toBe('José')
  })

  it('attribute values: each literal tab, CR or LF is a space (not collapsed), references are not', () => {
    const actor = (written: string) =>
      first(DICOM_ESCAPED.replace('UserName="Jos&#233; Garc&#xED;a"', written), 'actorName')
    // A sender that wraps long attributes.
    expect(actor('UserName="Jos&#233;\n      Garc&#xED;a"')).toBe('José       García')
    expect(actor("UserName='Jos&#233;\tGarc&#xED;a'")).toBe('José García')
    expect(actor('UserName="Jos&#233;\r\nGarc&#xED;a"')).toBe('José García')
    expect(actor('UserName="Jos&#233;\rGarc&#xED;a"')).toBe('José García')
    // A tab or line feed written as a reference is one (§3.3.3), and the event schema
    // refuses control characters in a name, as it does a literal tab in element text.
    for (const ws of ['&#9;', '&#10;', '&#xD;'])
      expect(actor(`UserName="Jos&#233;${ws}Garc&#xED;a"`)).toMatch(
        /^EVENT_INVALID .*actorName must not contain control characters/,
      )
    // Spaces a reference puts at either end are trimmed, as written ones always were.
    expect(actor('UserName="&#32;Jos&#233;&#x20;"')).toBe('José')
  })

  it('element text keeps its tabs and line breaks (XML normalizes only line ends)', () => {
    const patient = (written: string) =>
      first(DICOM_ESCAPED.replace('M&#252;ller^J&#xFC;rgen', written), 'patientName')
    expect(patient('M&#252;ller\r\n^J&#xFC;rgen')).toMatch(
      /^EVENT_INVALID .*patientName must not contain control characters/,
    )
    expect(patient('M&#252;ller\t^J&#xFC;rgen')).toMatch(/must not contain control characters/)
    expect(patient('\r\n  M&#252;ller^J&#xFC;rgen\n')).toBe('Müller^Jürgen')
  })

  it('refuses a reference to a character XML 1.0 forbids, or a malformed one, naming it', () => {
    const forbidden = ['&#0;', '&#x1;', '&#31;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;']
    for (const ref of [...forbidden, '&#x110000;', '&#99999999999;'])
      for (const xml of [
        DICOM_ESCAPED.replace('Jos&#233;', `Jos${ref}`),
        DICOM_ESCAPED.replace('M&#252;ller', `M${ref}ller`),
      ])
        expect(refusal(xml)).toBe(
          `MESSAGE_INVALID xml: audit message xml: not well-formed: a character reference to a character XML 1.0 does not allow (${ref})`,
        )
    for (const ref of ['&#X41;', '&#;', '&#x;', '&#12a;'])
      expect(refusal(DICOM_ESCAPED.replace('Jos&#233;', `Jos${ref}`))).toBe(
        `MESSAGE_INVALID xml: audit message xml: not well-formed: a malformed character reference ("${ref}")`,
      )
    // saxes reads a reference up to the next ";": that is what is named (cut if long).
    const malformed = (xml: string) => refusal(xml).replace(/^.*malformed character reference /, '')
    expect(malformed(DICOM_ESCAPED.replace('Jos&#233;', 'Jos&#233'))).toBe('("&#233 Garc&#xED;")')
    expect(malformed(DICOM_ESCAPED.replace('M&#252;', 'M&#252'))).toBe('("&#252ller^J&#xFC;")')
    expect(malformed(RFC3881_ESCAPED.replace('&#x20BB7;', '&#x20BB7'))).toBe('("&#x20BB7&#x7530;")')
    expect(malformed(DICOM_ESCAPED.replace('Jos&#233;', 'Jos&#233 '.padEnd(60, 'x')))).toBe(
      '("&#233 xxxxxxxxxxxxxx…")',
    )
    // The one saxes refused is named, not a "&#0;" in a comment before it (no reference).
    const commented = DICOM_ESCAPED.replace(
      '<AuditSourceIdentification',
      '<!-- &#0; --><AuditSourceIdentification',
    )
    expect(refusal(commented)).toBe('accepted')
    expect(refusal(commented.replace('M&#252;ller', 'M&#xFFFF;ller'))).toMatch(
      /does not allow \(&#xFFFF;\)$/,
    )
    // A document that declares XML 1.1 (which allows &#x1;) is still read by 1.0's rules.
    const v11 = DICOM_ESCAPED.replace('version="1.0" encoding="UTF-8"', 'version="1.1"')
    expect(refusal(v11)).toBe('accepted')
    expect(refusal(v11.replace('Jos&#233;', 'Jos&#x1;'))).toMatch(/does not allow \(&#x1;\)$/)
    // On the parse thread's path the refusal is the reason the listener logs.
    expect(parseFrames([syslogOf(DICOM_ESCAPED.replace('Jos&#233;', 'Jos&#0;'))])).toEqual([
      {
        refused: {
          code: 'MESSAGE_INVALID',
          field: 'xml',
          reason:
            'audit message xml: not well-formed: a character reference to a character XML 1.0 does not allow (&#0;)',
        },
      },
    ])
  })
})
