import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { eventsOfAuditMessage } from './node/atna/audit-message.ts'
import { parseSyslogMessage } from './node/atna/syslog-message.ts'
function message(i: number): Buffer {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-12-01T09:30:00Z" EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification><ActiveParticipant UserID="dr-${i % 50}" UserIsRequestor="true"/><AuditSourceIdentification AuditSourceID="EHR-BENCH"/><ParticipantObjectIdentification ParticipantObjectID="P-${i}" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/></ParticipantObjectIdentification></AuditMessage>`
  return Buffer.from(`<85>1 2026-12-01T09:30:00Z ehr.bench.test EHR - IHE+RFC-3881 - ${xml}`)
}
const ms = Array.from({length: 5000}, (_, i) => message(i))
const texts = ms.map(m => parseSyslogMessage(m).msg.toString('utf8'))
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', processEntities: true, htmlEntities: false, removeNSPrefix: true, parseAttributeValue: false, parseTagValue: false })
for (let r=0;r<3;r++){
 let t=performance.now(); for (const m of ms) parseSyslogMessage(m); console.log('syslog', ((performance.now()-t)/ms.length*1000).toFixed(1),'µs')
 t=performance.now(); for (const x of texts) XMLValidator.validate(x); console.log('validate', ((performance.now()-t)/ms.length*1000).toFixed(1))
 t=performance.now(); for (const x of texts) parser.parse(x); console.log('parse', ((performance.now()-t)/ms.length*1000).toFixed(1))
 t=performance.now(); for (const m of ms) eventsOfAuditMessage(parseSyslogMessage(m).msg); console.log('all', ((performance.now()-t)/ms.length*1000).toFixed(1))
}
const p2 = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', processEntities: false, htmlEntities: false, removeNSPrefix: true, parseAttributeValue: false, parseTagValue: false })
const p3 = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', processEntities: false, htmlEntities: false, removeNSPrefix: false, parseAttributeValue: false, parseTagValue: false })
for (let r=0;r<3;r++){
 let t=performance.now(); for (const x of texts) parser.parse(x); console.log('parse', ((performance.now()-t)/ms.length*1000).toFixed(1))
 t=performance.now(); for (const x of texts) p2.parse(x); console.log('parse noent', ((performance.now()-t)/ms.length*1000).toFixed(1))
 t=performance.now(); for (const x of texts) p3.parse(x); console.log('parse noent nons', ((performance.now()-t)/ms.length*1000).toFixed(1))
 t=performance.now(); for (const x of texts) parser.parse(x, true); console.log('parse+validate', ((performance.now()-t)/ms.length*1000).toFixed(1))
}
