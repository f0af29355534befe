// The XML reading audit-message.ts did before session 10, kept verbatim as the reference for
// xml-differential.test.ts: fast-xml-parser's XMLValidator, then its XMLParser.
import { XMLParser, XMLValidator } from 'fast-xml-parser'

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: true,
  parseAttributeValue: false,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  jPath: false,
  isArray: (name) =>
    ['ActiveParticipant', 'ParticipantObjectIdentification', 'AuditSourceIdentification'].includes(
      name,
    ),
})

/** The old parseAuditMessage: the AuditMessage object, or throws (any error: refused). */
export function oldParseAuditMessage(xml: Buffer): Record<string, unknown> {
  const text = xml.toString('utf8')
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new Error('a DTD is not allowed')
  const valid = XMLValidator.validate(text)
  if (valid !== true) throw new Error(`not well-formed: ${valid.err.msg} (line ${valid.err.line})`)
  const root = (parser.parse(text) as Record<string, unknown>).AuditMessage
  if (!root || typeof root !== 'object') throw new Error('no AuditMessage root')
  return root as Record<string, unknown>
}
