import { describe, expect, it } from 'vitest'
import {
  correlationIdsOf,
  eventsOfAuditMessage,
  eventsOfAuditRoot,
  parseAuditMessage,
} from '../../node/atna/audit-message.ts'
import { readAuditXml } from '../../node/atna/audit-xml.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { drawPatients, message } from '../../scripts/bench/syslog-load.ts'
import { DICOM_PATIENT_RECORD, RFC3881_QUERY, XML_BOMB } from './messages.ts'
import { oldParseAuditMessage } from './old-xml.ts'
import { mutantsOf } from './xml-mutants.ts'

// The saxes reader (audit-xml.ts) against the two fast-xml-parser passes it replaced
// (old-xml.ts): the same parsed object and events for every message both accept, and a
// refusal for every message the old passes refused.

type Outcome = { ok: true; root: unknown; out: string } | { ok: false; why: string }

function outcome(read: (xml: Buffer) => Record<string, unknown>, text: string): Outcome {
  const xml = Buffer.from(text)
  try {
    const root = read(xml)
    const events = eventsOfAuditRoot(root, xml)
    return { ok: true, root, out: JSON.stringify([events, correlationIdsOf(root)]) }
  } catch (err) {
    return { ok: false, why: err instanceof Error ? err.message : String(err) }
  }
}

function benchXml(i: number, patient: string): string {
  const wire = message(i, patient).toString('utf8')
  return wire.slice(wire.indexOf('<?xml'))
}

const namespaced = DICOM_PATIENT_RECORD.replace(
  '<AuditMessage>',
  '<?xml-stylesheet type="text/xsl" href="audit.xsl"?><a:AuditMessage xmlns:a="urn:dicom:audit" xmlns="urn:x">',
)
  .replace('</AuditMessage>', '</a:AuditMessage>')
  .replaceAll('<ActiveParticipant ', '<a:ActiveParticipant ')
  .replaceAll('</ActiveParticipant>', '</a:ActiveParticipant>')

/** Messages that exercise what the reader must read as fast-xml-parser did. */
const CRAFTED = [
  namespaced,
  DICOM_PATIENT_RECORD.replaceAll('\n', '\r\n'),
  DICOM_PATIENT_RECORD.replace(
    '<ParticipantObjectName>Doe^Jane</ParticipantObjectName>',
    '<ParticipantObjectName> Doe<!-- a comment -->^Jane &amp; <![CDATA[ <Co> ]]> &lt;x&gt; <?pi?> y </ParticipantObjectName>',
  ),
  DICOM_PATIENT_RECORD.replace('UserName="Gregory House"', 'UserName="Gregory&#32;House &#233;"'),
  DICOM_PATIENT_RECORD.replace('UserName="Gregory House"', "UserName='Gregory\tHouse'"),
  DICOM_PATIENT_RECORD.replace(
    'originalText="Patient Record"',
    'originalText=" Patient&#10;Record "',
  ),
  DICOM_PATIENT_RECORD.replace('<ParticipantObjectName>', '<ParticipantObjectName x="1">'),
  DICOM_PATIENT_RECORD.replace(
    '<ParticipantObjectName>Doe^Jane</ParticipantObjectName>',
    '<ParticipantObjectName>A</ParticipantObjectName><ParticipantObjectName>B</ParticipantObjectName>',
  ),
  DICOM_PATIENT_RECORD.replace('<EventID ', '<toString x="1"/><EventID '),
  DICOM_PATIENT_RECORD.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.1"?>'),
  RFC3881_QUERY.replace('UElEP3BpZD0xMjM=', 'x'.repeat(20_000)),
  RFC3881_QUERY.replace(
    'ParticipantObjectID="Q-17"',
    'ParticipantObjectID="Q-17" xmlns:q="u" q:ParticipantObjectTypeCodeRole="1"',
  ),
]

const CORPUS = [DICOM_PATIENT_RECORD, RFC3881_QUERY, benchXml(7, 'PAT-77'), ...CRAFTED]

describe('the saxes reader against XMLValidator + XMLParser', () => {
  it('reads the test corpus to the same object and byte-identical events', () => {
    for (const xml of CORPUS) {
      const before = outcome(oldParseAuditMessage, xml)
      const after = outcome(parseAuditMessage, xml)
      expect(after).toEqual(before)
    }
    expect(outcome(parseAuditMessage, CORPUS[0]!).ok).toBe(true)
  })

  it("maps the syslog benchmark's messages (20,000, pool of 10,000) to byte-identical events", () => {
    const pool = Array.from({ length: 10_000 }, (_, i) => `PAT-${i}`)
    const drawn = drawPatients(pool, 20_000)
    let same = 0
    for (const [i, patient] of drawn.entries()) {
      const xml = Buffer.from(benchXml(i, patient))
      const before = JSON.stringify(eventsOfAuditRoot(oldParseAuditMessage(xml), xml))
      if (JSON.stringify(eventsOfAuditMessage(xml)) === before) same++
    }
    expect(same).toBe(20_000)
  }, 120_000)

  it('refuses every mutated message the old passes refused; same events where both accept', () => {
    const counts = { bothRefused: 0, bothAccepted: 0, onlyNewRefused: 0 }
    const onlyNew = new Set<string>()
    for (const [k, xml] of CORPUS.entries()) {
      for (const mutant of mutantsOf(xml, k < 3 ? 3000 : 400, k + 1)) {
        const before = outcome(oldParseAuditMessage, mutant)
        const after = outcome(parseAuditMessage, mutant)
        if (!before.ok) {
          if (after.ok) expect.fail(`old refused (${before.why}), new accepted: ${mutant}`)
          counts.bothRefused++
        } else if (after.ok) {
          expect(after).toEqual(before)
          counts.bothAccepted++
        } else {
          // Refused only now: saxes finds it is not well-formed XML 1.0 (a bare "&", an
          // undefined entity, "<" or a NUL in a value, a bad declaration or name...); or a
          // name holds U+FEFF or U+1680, name characters in XML 1.0 but whitespace to
          // fast-xml-parser (audit-xml.ts, checkName); or a processing instruction has an
          // unbalanced quote (fast-xml-parser found no end to it: not every such one was
          // refused by it, some were misread).
          expect(after.why).toMatch(
            /^audit message xml: (not well-formed: |a name with U\+FEFF|a processing instruction)/,
          )
          onlyNew.add(after.why.replace(/^audit message xml: not well-formed: /, ''))
          counts.onlyNewRefused++
        }
      }
    }
    // The mutations reach all three cases.
    expect(counts.bothRefused).toBeGreaterThan(5000)
    expect(counts.bothAccepted).toBeGreaterThan(1500)
    expect(counts.onlyNewRefused).toBeGreaterThan(50)
    expect(onlyNew.size).toBeGreaterThan(5)
  }, 180_000)

  it('never expands an entity: the XML bomb is refused, by the DTD check and by saxes itself', () => {
    const started = performance.now()
    const code = (() => {
      try {
        eventsOfAuditMessage(Buffer.from(XML_BOMB))
      } catch (err) {
        return isEhrlogError(err) ? `${err.code} ${err.details.field}` : 'other'
      }
    })()
    expect(code).toBe('MESSAGE_INVALID DOCTYPE')
    // Past the DTD check (as if it were gone), saxes refuses the undefined entity.
    expect(() => readAuditXml(XML_BOMB)).toThrow(/not well-formed: .*entity/)
    expect(() => readAuditXml(XML_BOMB.replace('<!DOCTYPE', '<!doctype'))).toThrow(
      /not well-formed/,
    )
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('refuses what fast-xml-parser refused while parsing: deep nesting, __proto__ names', () => {
    const deep = `<AuditMessage>${'<a>'.repeat(150)}${'</a>'.repeat(150)}</AuditMessage>`
    for (const xml of [
      deep,
      DICOM_PATIENT_RECORD.replace('<EventID ', '<__proto__/><EventID '),
      DICOM_PATIENT_RECORD.replace('<EventID ', '<EventID constructor="x" '),
    ]) {
      expect(outcome(oldParseAuditMessage, xml).ok).toBe(false)
      expect(outcome(parseAuditMessage, xml)).toMatchObject({ ok: false, why: /audit message xml/ })
    }
  })

  it('reads a message cleanly after one that failed half-way (the parser is reused)', () => {
    const good = eventsOfAuditMessage(Buffer.from(RFC3881_QUERY))
    for (const cut of [50, 300, 900]) {
      expect(() => eventsOfAuditMessage(Buffer.from(RFC3881_QUERY.slice(0, cut)))).toThrow()
      expect(eventsOfAuditMessage(Buffer.from(RFC3881_QUERY))).toEqual(good)
    }
    expect(() => eventsOfAuditMessage(Buffer.from(`${RFC3881_QUERY}<x/>`))).toThrow()
    expect(eventsOfAuditMessage(Buffer.from(RFC3881_QUERY))).toEqual(good)
  })
})
