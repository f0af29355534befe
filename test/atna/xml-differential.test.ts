import { isDeepStrictEqual } from 'node:util'
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
// (old-xml.ts): a refusal for every message the old passes refused, and the same parsed
// object and events for every message both accept, except where XML reads a value otherwise
// than fast-xml-parser did. Those are exactly the messages with a character reference
// (`&#233;`: fast-xml-parser kept it as written, XML reads "é") or a literal tab or line
// break in an attribute value (kept by fast-xml-parser, a space in XML, §3.3.3); for them the
// new value is the old one read as XML says (`asXmlReads`).

type Read = { ok: true; root: Record<string, unknown> } | { ok: false; why: string }
type Outcome = { ok: true; root: unknown; out: string } | { ok: false; why: string }

function whyOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function read(parse: (xml: Buffer) => Record<string, unknown>, text: string): Read {
  try {
    return { ok: true, root: parse(Buffer.from(text)) }
  } catch (err) {
    return { ok: false, why: whyOf(err) }
  }
}

/** The parsed object and the events (with the correlation ids) mapped from it. */
function outcomeOf(r: Read, text: string): Outcome {
  if (!r.ok) return r
  try {
    const events = eventsOfAuditRoot(r.root, Buffer.from(text))
    return { ok: true, root: r.root, out: JSON.stringify([events, correlationIdsOf(r.root)]) }
  } catch (err) {
    return { ok: false, why: whyOf(err) }
  }
}

function outcome(parse: (xml: Buffer) => Record<string, unknown>, text: string): Outcome {
  return outcomeOf(read(parse, text), text)
}

function benchXml(i: number, patient: string): string {
  const wire = message(i, patient).toString('utf8')
  return wire.slice(wire.indexOf('<?xml'))
}

const CHAR_REF = /&#(x[0-9a-fA-F]+|[0-9]+);/g

/** XML 1.0 §4.1: a character reference stands for its character. */
function decodeRefs(v: string): string {
  return v.replace(CHAR_REF, (_, n: string) =>
    String.fromCodePoint(n[0] === 'x' ? Number.parseInt(n.slice(1), 16) : Number.parseInt(n, 10)),
  )
}

/**
 * The object the old passes gave for `text`, with each value read as XML reads it: the
 * character references replaced, and in an attribute value each literal tab or line break
 * (fast-xml-parser had made CR LF and CR an LF) a space before that (§3.3.3: a reference is
 * not normalized); then trimmed again where a reference made a space at an end (both readers
 * trim each value and each piece of text but a CDATA section's). A key is an element's (its
 * text) when `text` has a tag of that name, else an attribute's. A text left empty is none.
 */
function asXmlReads(root: Record<string, unknown>, text: string): Record<string, unknown> {
  const elements = new Set(
    [...text.matchAll(/<\/?(?:[^\s/>:!?]+:)?([^\s/>!?]+)/g)].map((m) => m[1]!),
  )
  const value = (v: unknown, isText: boolean): unknown => {
    if (typeof v === 'string') {
      if (!isText) return decodeRefs(v.replace(/[\t\n]/g, ' ')).trim()
      return v.includes('&#') ? decodeRefs(v).trim() : v
    }
    if (Array.isArray(v)) return v.map((x) => value(x, isText))
    if (!v || typeof v !== 'object') return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      const read = value(x, k === '#text' || elements.has(k))
      if (k !== '#text' || read !== '') out[k] = read
    }
    return out
  }
  return value(root, false) as Record<string, unknown>
}

/** What may make XML's reading differ from fast-xml-parser's (see above). */
function readsDifferently(text: string): boolean {
  return /&#/.test(text) || /=\s*("[^"]*[\t\r\n][^"]*"|'[^']*[\t\r\n][^']*')/.test(text)
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

/**
 * Messages XML reads otherwise than fast-xml-parser did: one value each, at `path` in the
 * AuditMessage object, as the old passes gave it and as XML reads it; and what the events
 * then say (`actorName`, `detail`), or the event schema's refusal.
 */
const REREAD: {
  xml: string
  path: (string | number)[]
  old: string
  xml10: string
  events: Record<string, string> | RegExp
  oldEvents: Record<string, string> | RegExp
}[] = [
  {
    xml: DICOM_PATIENT_RECORD.replace(
      'UserName="Gregory House"',
      'UserName="Gregory&#32;House &#233;"',
    ),
    path: ['ActiveParticipant', 0, 'UserName'],
    old: 'Gregory&#32;House &#233;',
    xml10: 'Gregory House é',
    events: { actorName: 'Gregory House é' },
    oldEvents: { actorName: 'Gregory&#32;House &#233;' },
  },
  {
    xml: DICOM_PATIENT_RECORD.replace('UserName="Gregory House"', "UserName='Gregory\tHouse'"),
    path: ['ActiveParticipant', 0, 'UserName'],
    old: 'Gregory\tHouse',
    xml10: 'Gregory House',
    events: { actorName: 'Gregory House' },
    // The tab fast-xml-parser kept is a control character to the event schema.
    oldEvents: /actorName must not contain control characters/,
  },
  {
    xml: DICOM_PATIENT_RECORD.replace(
      'originalText="Patient Record"',
      'originalText=" Patient&#10;Record "',
    ),
    path: ['EventIdentification', 'EventID', 'originalText'],
    old: 'Patient&#10;Record',
    // A line feed written as a reference stays one (§3.3.3), and the event schema refuses it.
    xml10: 'Patient\nRecord',
    events: /detail must not contain control characters/,
    oldEvents: { detail: 'Patient&#10;Record' },
  },
]

const CORPUS = [DICOM_PATIENT_RECORD, RFC3881_QUERY, benchXml(7, 'PAT-77'), ...CRAFTED]

function at(root: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root)
}

function expectEvents(o: Outcome, want: Record<string, string> | RegExp): void {
  if (want instanceof RegExp) expect(o).toMatchObject({ ok: false, why: want })
  else {
    expect(o.ok).toBe(true)
    expect(JSON.parse((o as { out: string }).out)[0][0]).toMatchObject(want)
  }
}

describe('the saxes reader against XMLValidator + XMLParser', () => {
  it('reads the test corpus to the same object and byte-identical events', () => {
    for (const xml of CORPUS) {
      expect(readsDifferently(xml)).toBe(false)
      const before = outcome(oldParseAuditMessage, xml)
      const after = outcome(parseAuditMessage, xml)
      expect(after).toEqual(before)
    }
    expect(outcome(parseAuditMessage, CORPUS[0]!).ok).toBe(true)
  })

  it('reads character references and tabs in attribute values as XML does, the rest the same', () => {
    for (const m of REREAD) {
      const before = read(oldParseAuditMessage, m.xml)
      const after = read(parseAuditMessage, m.xml)
      if (!before.ok || !after.ok) throw new Error(`refused: ${m.xml}`)
      expect(at(before.root, m.path)).toBe(m.old)
      expect(at(after.root, m.path)).toBe(m.xml10)
      // Nothing else differs: the old object with this one value as XML reads it.
      const want = structuredClone(before.root)
      const parent = at(want, m.path.slice(0, -1)) as Record<string | number, unknown>
      parent[m.path[m.path.length - 1]!] = m.xml10
      expect(after.root).toEqual(want)
      expect(asXmlReads(before.root, m.xml)).toEqual(want)
      expectEvents(outcomeOf(before, m.xml), m.oldEvents)
      expectEvents(outcomeOf(after, m.xml), m.events)
      expect(outcomeOf(after, m.xml)).toEqual(outcomeOf({ ok: true, root: want }, m.xml))
    }
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

  it('refuses every mutated message the old passes refused; where both accept, the same object and events unless XML reads a reference or a tab otherwise', () => {
    const counts = {
      bothRefused: 0,
      same: 0,
      readAsXml: 0,
      nowAcceptedEvents: 0,
      nowRefusedEvents: 0,
      onlyNewRefused: 0,
    }
    const onlyNew = new Set<string>()
    const corpus = [...CORPUS, ...REREAD.map((m) => m.xml)]
    for (const [k, xml] of corpus.entries()) {
      for (const mutant of mutantsOf(xml, k < 3 ? 3000 : 400, k + 1)) {
        const before = read(oldParseAuditMessage, mutant)
        const after = read(parseAuditMessage, mutant)
        if (!before.ok) {
          // The reader refuses whatever the old passes refused.
          if (after.ok) expect.fail(`old refused (${before.why}), new accepted: ${mutant}`)
          counts.bothRefused++
        } else if (after.ok) {
          const oldOutcome = outcomeOf(before, mutant)
          const newOutcome = outcomeOf(after, mutant)
          if (isDeepStrictEqual(after.root, before.root)) {
            expect(newOutcome).toEqual(oldOutcome)
            counts.same++
            continue
          }
          // A difference only where XML reads a reference or a tab otherwise, and then the
          // old object read as XML says, and the events (or the refusal) of that.
          if (!readsDifferently(mutant)) expect.fail(`reads differently: ${mutant}`)
          const want = asXmlReads(before.root, mutant)
          expect(after.root, mutant).toEqual(want)
          expect(newOutcome).toEqual(outcomeOf({ ok: true, root: want }, mutant))
          counts.readAsXml++
          if (newOutcome.ok && !oldOutcome.ok) {
            // A tab or line break fast-xml-parser kept in an attribute value, now a space; or
            // a value with a reference, now its character (EventOutcomeIndicator="&#48;").
            if (!/must not contain control characters/.test(oldOutcome.why))
              expect(mutant, oldOutcome.why).toContain('&#')
            counts.nowAcceptedEvents++
          }
          if (!newOutcome.ok && oldOutcome.ok) {
            expect(newOutcome.why).toMatch(/must not contain control characters/)
            counts.nowRefusedEvents++
          }
        } else {
          // Refused only now: saxes finds it is not well-formed XML 1.0 (a bare "&", an
          // undefined entity, a reference to a character XML forbids, "<" or a NUL in a
          // value, a bad declaration or name...); or a name holds U+FEFF or U+1680, name
          // characters in XML 1.0 but whitespace to fast-xml-parser (audit-xml.ts,
          // checkName); or a processing instruction has an unbalanced quote (fast-xml-parser
          // found no end to it: not every such one was refused by it, some were misread).
          expect(after.why).toMatch(
            /^audit message xml: (not well-formed: |a name with U\+FEFF|a processing instruction)/,
          )
          onlyNew.add(after.why.replace(/^audit message xml: not well-formed: /, ''))
          counts.onlyNewRefused++
        }
      }
    }
    // The mutations reach every case.
    expect(counts.bothRefused).toBeGreaterThan(5000)
    expect(counts.same).toBeGreaterThan(1500)
    expect(counts.readAsXml).toBeGreaterThan(100)
    expect(counts.nowAcceptedEvents).toBeGreaterThan(0)
    expect(counts.nowRefusedEvents).toBeGreaterThan(0)
    expect(counts.onlyNewRefused).toBeGreaterThan(50)
    expect(onlyNew.size).toBeGreaterThan(5)
    expect([...onlyNew].some((w) => w.startsWith('a character reference to a character'))).toBe(
      true,
    )
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
