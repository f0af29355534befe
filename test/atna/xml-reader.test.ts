// The audit-message XML reader (node/atna/xml-reader.ts) against fast-xml-parser, which it
// replaced: the same trees for the same options, and never a document accepted that
// fast-xml-parser's validator refuses (XML 1.0 §2.1 well-formedness, checked on thousands of
// seeded mutations of a real-shaped message).
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { describe, expect, it } from 'vitest'
import { readXml, XmlNotWellFormed } from '../../node/atna/xml-reader.ts'
import { DICOM_PATIENT_RECORD, RFC3881_QUERY } from './messages.ts'

const LISTS = ['ActiveParticipant', 'ParticipantObjectIdentification', 'AuditSourceIdentification']
const ARRAYS = new Set(LISTS)
// The options node/atna/audit-message.ts gave fast-xml-parser.
const reference = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: true,
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => LISTS.includes(name),
})

function verdict(text: string): 'ok' | 'refused' {
  try {
    readXml(text, ARRAYS)
    return 'ok'
  } catch (err) {
    if (err instanceof XmlNotWellFormed) return 'refused'
    throw err
  }
}

const NAMESPACED = `<?xml version="1.0"?>
<!-- a sender's comment -->
<?sender-hint keep?>
<dicom:AuditMessage xmlns:dicom="http://dicom.nema.org/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="audit.xsd">
  <dicom:EventIdentification EventActionCode='R' EventDateTime="2026-12-01T09:30:00Z">
    <dicom:EventID csd-code="110110" originalText="Patient &amp; Record"/>
  </dicom:EventIdentification>
  <ActiveParticipant UserID="a&lt;b&gt;c&quot;d&apos;" UserIsRequestor="true"/>
  <AuditSourceIdentification AuditSourceID="S"/>
  <ParticipantObjectIdentification ParticipantObjectID="P-1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectName><![CDATA[Doe^Jane <x>]]></ParticipantObjectName>
    <ParticipantObjectQuery>  U0VMRUNU  </ParticipantObjectQuery>
    <ParticipantObjectDetail type="k" value="dg=="/>
    <ParticipantObjectDetail type="l" value="dg=="/>
    <Empty></Empty>
  </ParticipantObjectIdentification>
</dicom:AuditMessage>
`

describe('the audit-message XML reader', () => {
  it.each([
    ['DICOM PS3.15 A.5', DICOM_PATIENT_RECORD],
    ['RFC 3881', RFC3881_QUERY],
    ['namespaces, entities, character references, CDATA, comments, PIs', NAMESPACED],
  ])('builds the tree fast-xml-parser builds: %s', (_, xml) => {
    expect(XMLValidator.validate(xml)).toBe(true)
    expect(readXml(xml, ARRAYS).AuditMessage).toEqual(reference.parse(xml).AuditMessage)
  })

  it.each([
    ['a mismatched end tag', '<a><b></a></b>'],
    ['an unclosed element', '<a><b/>'],
    ['an unquoted attribute', '<a b=1/>'],
    ['a repeated attribute', '<a b="1" b="2"/>'],
    ['attributes without whitespace between', '<a b="1"c="2"/>'],
    ['"<" in an attribute value', '<a b="<"/>'],
    ['an undefined entity', '<a>&nbsp;</a>'],
    ['a bare "&"', '<a>fish & chips</a>'],
    ['a reference to U+0000', '<a>&#0;</a>'],
    ['a control character', '<a>\u0001</a>'],
    ['text after the root', '<a/>b'],
    ['two roots', '<a/><b/>'],
    ['no root', '<?xml version="1.0"?>'],
    ['"]]>" in text', '<a>]]></a>'],
    ['"--" in a comment', '<a><!-- a -- b --></a>'],
    ['an XML declaration not at the start', ' <?xml version="1.0"?><a/>'],
    ['a DTD', '<!DOCTYPE a><a/>'],
    ['a name starting with a digit', '<1a/>'],
  ])('refuses %s (not well-formed, XML 1.0)', (_, xml) => {
    expect(verdict(xml)).toBe('refused')
  })

  it('expands character references (XML 1.0 §4.1), which fast-xml-parser left as written', () => {
    const tree = readXml('<a b="&#x263A;&#65;">&#233;t&#xE9;</a>', ARRAYS)
    expect(tree.a).toEqual({ b: '\u263aA', '#text': 'été' })
  })

  it('names the line of the problem', () => {
    expect(() => readXml('<a>\n<b>\n</a>', ARRAYS)).toThrow(
      expect.objectContaining({ line: 3, message: '</a> closes <b>' }),
    )
  })

  it('never accepts a mutation fast-xml-parser refuses; agrees on the tree when both accept', () => {
    let seed = 17
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const inserts = ['<', '>', '"', "'", '&', '/', '=', '!', '?', '-', ']', ' ', '\u0002', ':']
    let bothAccepted = 0
    let refusedByBoth = 0
    for (let i = 0; i < 4000; i++) {
      const base = i % 2 === 0 ? DICOM_PATIENT_RECORD : NAMESPACED
      const at = random(base.length)
      const kind = random(3)
      const text =
        kind === 0
          ? base.slice(0, at) + base.slice(at + 1 + random(3))
          : kind === 1
            ? base.slice(0, at) + inserts[random(inserts.length)] + base.slice(at)
            : base.slice(0, at) + base.slice(at, at + random(40)) + base.slice(at)
      const theirs = XMLValidator.validate(text) === true ? 'ok' : 'refused'
      const ours = verdict(text)
      if (theirs === 'refused') {
        expect(ours, JSON.stringify(text)).toBe('refused')
        refusedByBoth++
      } else if (ours === 'ok') {
        let theirTree: Record<string, unknown>
        try {
          theirTree = reference.parse(text)
        } catch {
          continue // its validator passed what its parser then refused (a quote in a PI)
        }
        expect(readXml(text, ARRAYS).AuditMessage, JSON.stringify(text)).toEqual(
          theirTree.AuditMessage,
        )
        bothAccepted++
      }
    }
    // The mutations exercise both sides.
    expect(refusedByBoth).toBeGreaterThan(1000)
    expect(bothAccepted).toBeGreaterThan(200)
  })
})
