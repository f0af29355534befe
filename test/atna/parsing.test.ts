import { describe, expect, it } from 'vitest'
import { eventsOfAuditMessage, OctetFramer, parseSyslogMessage } from '../../node/atna/index.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { DICOM_PATIENT_RECORD, framed, RFC3881_QUERY, syslogOf, XML_BOMB } from './messages.ts'

const BOM = '\u00ef\u00bb\u00bf' // the UTF-8 BOM's bytes, spelt in latin1

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isEhrlogError(err) ? err.code : 'not an EhrlogError'
  }
  return undefined
}

describe('RFC 5424 messages (the examples of RFC 5424 §6.5)', () => {
  it('example 1: with no STRUCTURED-DATA', () => {
    const m = parseSyslogMessage(
      Buffer.from(
        `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`,
        'latin1',
      ),
    )
    expect(m).toMatchObject({
      facility: 4,
      severity: 2,
      timestamp: '2003-10-11T22:14:15.003Z',
      hostname: 'mymachine.example.com',
      appName: 'su',
      msgId: 'ID47',
      structuredData: [],
    })
    expect(m.procId).toBeUndefined()
    expect(m.msg.toString('utf8')).toBe("'su root' failed for lonvick on /dev/pts/8")
  })

  it('example 2: microsecond time with an offset, no MSGID', () => {
    const m = parseSyslogMessage(
      Buffer.from(
        `<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`,
      ),
    )
    expect(m).toMatchObject({
      facility: 20,
      severity: 5,
      hostname: '192.0.2.1',
      appName: 'myproc',
      procId: '8710',
    })
    expect(m.msg.toString()).toBe("%% It's time to make the do-nuts.")
  })

  it('examples 3 and 4: structured data, one and two elements', () => {
    const three = parseSyslogMessage(
      Buffer.from(
        `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${BOM}An application event log entry...`,
        'latin1',
      ),
    )
    expect(three.structuredData).toEqual([
      {
        id: 'exampleSDID@32473',
        params: [
          ['iut', '3'],
          ['eventSource', 'Application'],
          ['eventID', '1011'],
        ],
      },
    ])
    expect(three.msg.toString()).toBe('An application event log entry...')
    const four = parseSyslogMessage(
      Buffer.from(
        `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
      ),
    )
    expect(four.structuredData.map((e) => e.id)).toEqual([
      'exampleSDID@32473',
      'examplePriority@32473',
    ])
    expect(four.msg.byteLength).toBe(0)
  })

  it('keeps the §6.3.3 escapes in PARAM-VALUE', () => {
    const m = parseSyslogMessage(Buffer.from('<14>1 - - - - - [x@1 v="a\\"b\\\\c\\]d\\e"]'))
    expect(m.structuredData[0]?.params).toEqual([['v', 'a"b\\c]d\\e']])
  })

  it.each([
    ['RFC 3164 (BSD)', '<34>Oct 11 22:14:15 mymachine su: failed'],
    ['PRIVAL over 191', '<192>1 - - - - - -'],
    ['version 2', '<34>2 - - - - - -'],
    ['a bad timestamp', '<34>1 2003-10-11 22:14:15 host app - - -'],
    ['a truncated header', '<34>1 2003-10-11T22:14:15Z host'],
    ['an unclosed SD-ELEMENT', '<34>1 - - - - - [x@1 a="b"'],
    ['no SP before MSG', '<34>1 - - - - - -msg'],
  ])('refuses %s with MESSAGE_INVALID', (_, text) => {
    expect(code(() => parseSyslogMessage(Buffer.from(text)))).toBe('MESSAGE_INVALID')
  })
})

describe('RFC 6587 octet-counted framing', () => {
  it('splits frames across and within chunks', () => {
    const framer = new OctetFramer(1000)
    const wire = Buffer.concat([
      framed(Buffer.from('hello')),
      framed(Buffer.from('a b c')),
      framed(Buffer.from('x'.repeat(300))),
    ])
    const frames: string[] = []
    for (let i = 0; i < wire.length; i += 7)
      frames.push(...framer.push(wire.subarray(i, i + 7)).map((f) => f.toString()))
    expect(frames).toEqual(['hello', 'a b c', 'x'.repeat(300)])
    expect(framer.idle).toBe(true)
  })

  it.each([1, 2, 3, 4, 5, 150, 299, 300, 301, 302, 4096])(
    'gives the same frames whatever the chunk size (%i bytes), twice over',
    (step) => {
      const framer = new OctetFramer(1000)
      const messages = ['hello', 'a b c', 'x'.repeat(300), 'y', 'z'.repeat(999)]
      const wire = Buffer.concat([...messages, ...messages].map((m) => framed(Buffer.from(m))))
      const frames: string[] = []
      for (let i = 0; i < wire.length; i += step)
        frames.push(...framer.push(wire.subarray(i, i + step)).map((f) => f.toString()))
      expect(frames).toEqual([...messages, ...messages])
      expect(framer.idle).toBe(true)
      expect(framer.bufferedBytes).toBe(0)
    },
  )

  it('refuses non-transparent framing (a message ended by LF), a leading zero and a huge length', () => {
    expect(code(() => new OctetFramer(1000).push(Buffer.from('<34>1 - - - - - - hi\n')))).toBe(
      'MESSAGE_INVALID',
    )
    expect(code(() => new OctetFramer(1000).push(Buffer.from('05 hello')))).toBe('MESSAGE_INVALID')
    expect(code(() => new OctetFramer(1000).push(Buffer.from('1001 ')))).toBe('PAYLOAD_TOO_LARGE')
    expect(code(() => new OctetFramer(1000).push(Buffer.from('1234567890')))).toBe(
      'MESSAGE_INVALID',
    )
  })

  it('holds a truncated frame without completing it', () => {
    const framer = new OctetFramer(1000)
    expect(framer.push(Buffer.from('10 hello'))).toEqual([])
    expect(framer.idle).toBe(false)
  })
})

describe('audit messages to events', () => {
  it('maps a DICOM PS3.15 A.5 Patient Record message: one event, the original kept', () => {
    const xml = Buffer.from(DICOM_PATIENT_RECORD)
    const [event, ...rest] = eventsOfAuditMessage(xml)
    expect(rest).toEqual([])
    expect(event).toMatchObject({
      patientId: 'PAT-0042^^^&1.2.3.4&ISO',
      patientName: 'Doe^Jane',
      actorId: 'dr.house',
      actorName: 'Gregory House',
      action: 'update',
      detail: 'Patient Record',
      resource: 'Patient Number',
      time: '2026-12-01T08:30:00.123Z',
      outcome: 'success',
      source: 'PACS-1',
    })
    expect(Buffer.from(event!.original!, 'base64').equals(xml)).toBe(true)
    expect(event!.originalSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('maps an RFC 3881 query naming two patients to two events', () => {
    const events = eventsOfAuditMessage(Buffer.from(RFC3881_QUERY))
    expect(events.map((e) => e.patientId)).toEqual(['PAT-0042', 'PAT-0043'])
    for (const e of events) {
      expect(e).toMatchObject({
        actorId: 'ehr-frontend',
        action: 'query',
        resource: 'Patient Demographics Query',
        resourceId: 'Q-17',
        outcome: 'failure',
        source: 'EHR-FRONTEND',
      })
    }
  })

  it('refuses an XML bomb without expanding it', () => {
    const started = performance.now()
    expect(code(() => eventsOfAuditMessage(Buffer.from(XML_BOMB)))).toBe('MESSAGE_INVALID')
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it.each([
    ['truncated XML', DICOM_PATIENT_RECORD.slice(0, 400)],
    [
      'no patient',
      DICOM_PATIENT_RECORD.replace(
        'ParticipantObjectTypeCodeRole="1"',
        'ParticipantObjectTypeCodeRole="3"',
      ),
    ],
    [
      'no requestor',
      DICOM_PATIENT_RECORD.replace('UserIsRequestor="true"', 'UserIsRequestor="false"'),
    ],
    [
      'a bad action code',
      DICOM_PATIENT_RECORD.replace('EventActionCode="U"', 'EventActionCode="X"'),
    ],
    ['a bad time', DICOM_PATIENT_RECORD.replace('2026-12-01T09:30', '2026-13-01T09:30')],
    ['no audit source', DICOM_PATIENT_RECORD.replace('AuditSourceID="PACS-1"', '')],
    ['not an audit message', '<html><body/></html>'],
  ])('refuses %s', (_, xml) => {
    expect(['MESSAGE_INVALID', 'EVENT_INVALID']).toContain(
      code(() => eventsOfAuditMessage(Buffer.from(xml))),
    )
  })

  it('reads namespaced elements and skips processing instructions as before (parser options)', () => {
    const mapped = (xml: string) =>
      eventsOfAuditMessage(Buffer.from(xml)).map(({ original, originalSha256, ...e }) => e)
    const plain = mapped(DICOM_PATIENT_RECORD)
    const namespaced = DICOM_PATIENT_RECORD.replace(
      '<AuditMessage>',
      '<?xml-stylesheet type="text/xsl" href="audit.xsl"?><a:AuditMessage xmlns:a="urn:dicom:audit">',
    )
      .replace('</AuditMessage>', '</a:AuditMessage>')
      .replaceAll('<ActiveParticipant ', '<a:ActiveParticipant ')
      .replaceAll('</ActiveParticipant>', '</a:ActiveParticipant>')
    expect(namespaced).not.toBe(DICOM_PATIENT_RECORD)
    expect(mapped(namespaced)).toEqual(plain)
    expect(plain[0]?.actorId).toBe('dr.house')
    // A processing instruction inside an element is not read as one of its fields.
    const withPi = DICOM_PATIENT_RECORD.replace(
      '<EventID ',
      '<?ehr-hint EventActionCode="C"?><EventID ',
    )
    expect(mapped(withPi)).toEqual(plain)
  })

  it('the syslog wrapper round-trips to the same events', () => {
    const m = parseSyslogMessage(syslogOf(DICOM_PATIENT_RECORD))
    expect(m.msgId).toBe('IHE+RFC-3881')
    expect(eventsOfAuditMessage(m.msg)).toEqual(
      eventsOfAuditMessage(Buffer.from(DICOM_PATIENT_RECORD)),
    )
  })
})
