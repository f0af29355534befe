/*
 * Audit messages for the tests, written after the structure of published ones, not copied
 * from them (identifiers are made up; no published message carries real patients):
 * - DICOM: PS3.15 A.5.3's "Patient Record" message (EventID 110110, DCM) in the DICOM
 *   schema's csd-code/originalText spelling, with the participants IHE ITI TF-2 requires;
 *   its layout follows IExHub's "DICOM compatible" ITI-47 audit template.
 * - RFC 3881: the RFC's §5 element set in its code/displayName spelling, as the PIX/PDQ query
 *   audits in OpenHIM core's test fixtures are written (a Java sender, 2015: syslog header
 *   `<85>1 … java 9293 IHE+RFC-3881 - <?xml …?><AuditMessage>`): EventID 110112 Query,
 *   EventActionCode E, the patients, and the query (TypeCodeRole 24).
 */
export const DICOM_PATIENT_RECORD = `<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage>
  <EventIdentification EventActionCode="U" EventDateTime="2026-12-01T09:30:00.123+01:00" EventOutcomeIndicator="0">
    <EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>
    <EventTypeCode csd-code="ITI-8" codeSystemName="IHE Transactions" originalText="Patient Identity Feed"/>
  </EventIdentification>
  <ActiveParticipant UserID="dr.house" AlternativeUserID="4711" UserName="Gregory House" UserIsRequestor="true" NetworkAccessPointID="192.0.2.10" NetworkAccessPointTypeCode="2">
    <RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/>
  </ActiveParticipant>
  <ActiveParticipant UserID="pacs@hospital-a" UserIsRequestor="false">
    <RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditEnterpriseSiteID="hospital-a" AuditSourceID="PACS-1">
    <AuditSourceTypeCode csd-code="4"/>
  </AuditSourceIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="PAT-0042^^^&amp;1.2.3.4&amp;ISO" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>
    <ParticipantObjectName>Doe^Jane</ParticipantObjectName>
  </ParticipantObjectIdentification>
</AuditMessage>`

export const RFC3881_QUERY = `<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage>
  <EventIdentification EventActionCode="E" EventDateTime="2026-12-01T10:00:00Z" EventOutcomeIndicator="4">
    <EventID code="110112" codeSystemName="DCM" displayName="Query"/>
    <EventTypeCode code="ITI-47" codeSystemName="IHE Transactions" displayName="Patient Demographics Query"/>
  </EventIdentification>
  <ActiveParticipant UserID="ehr-frontend" UserIsRequestor="true" NetworkAccessPointID="192.0.2.20" NetworkAccessPointTypeCode="2">
    <RoleIDCode code="110153" codeSystemName="DCM" displayName="Source"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditSourceID="EHR-FRONTEND"/>
  <ParticipantObjectIdentification ParticipantObjectID="PAT-0042" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode code="2"/>
  </ParticipantObjectIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="PAT-0043" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode code="2"/>
  </ParticipantObjectIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="Q-17" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24">
    <ParticipantObjectIDTypeCode code="ITI-47" codeSystemName="IHE Transactions" displayName="Patient Demographics Query"/>
    <ParticipantObjectQuery>UElEP3BpZD0xMjM=</ParticipantObjectQuery>
  </ParticipantObjectIdentification>
</AuditMessage>`

/** "Billion laughs": ten levels of ten references, a gigabyte if expanded. */
export const XML_BOMB = `<?xml version="1.0"?>
<!DOCTYPE AuditMessage [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-12-01T10:00:00Z"><EventID csd-code="&lol3;"/></EventIdentification></AuditMessage>`

/** An RFC 5424 message carrying `xml` as MSG (with the UTF-8 BOM of §6.4), as ATNA sends it. */
export function syslogOf(xml: string, msgId = 'IHE+RFC-3881'): Buffer {
  const header = `<85>1 2026-12-01T09:30:00.123Z ehr.hospital-a.test EHR 1234 ${msgId} - `
  return Buffer.concat([Buffer.from(header), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)])
}

/** RFC 6587 §3.4.1 octet counting: MSG-LEN SP SYSLOG-MSG. */
export function framed(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.byteLength} `), message])
}
