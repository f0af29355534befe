/**
 * A published IHE BALP (Basic Audit Log Patterns) example, transcribed to R4 JSON from its
 * FSH source: instance ex-auditBasicReadServer (InstanceOf PatientRead) in
 * github.com/IHE/ITI.BasicAudit input/fsh/ex-patientRead.fsh, published as
 * profiles.ihe.net/ITI/BALP/AuditEvent-ex-auditBasicReadServer.json. A server's record of a
 * RESTful read of List/ex-list about Patient/ex-patient by the user John Smith.
 */
const DCM = 'http://dicom.nema.org/resources/ontology/DCM'

export const balpPatientReadServer = {
  resourceType: 'AuditEvent',
  id: 'ex-auditBasicReadServer',
  meta: {
    profile: ['https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead'],
    security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HTEST' }],
  },
  type: {
    system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
    code: 'rest',
    display: 'Restful Operation',
  },
  subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }],
  action: 'R',
  recorded: '2020-04-29T09:49:00.000Z',
  outcome: '0',
  source: {
    site: 'server.example.com',
    observer: { reference: 'Device/ex-device' },
    type: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
        code: '4',
        display: 'Application Server',
      },
    ],
  },
  agent: [
    {
      type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
      who: { reference: 'Device/ex-device' },
      requestor: false,
      network: { address: 'http://server.example.com/fhir', type: '5' },
    },
    {
      type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
      who: { display: 'myMachine.example.org' },
      requestor: false,
      network: { address: '2001:0db8:85a3:0000:0000:8a2e:0370:7334', type: '2' },
    },
    {
      type: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
            code: 'IRCP',
            display: 'information recipient',
          },
        ],
      },
      who: { display: 'John Smith' },
      requestor: true,
    },
  ],
  entity: [
    {
      what: { reference: 'Patient/ex-patient' },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '1',
        display: 'Person',
      },
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '1',
        display: 'Patient',
      },
    },
    {
      what: { reference: 'List/ex-list' },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '2',
        display: 'System Object',
      },
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '4',
        display: 'Domain Resource',
      },
    },
    {
      what: { identifier: { value: '76d148b6-586d-11ec-bf63-0242ac130002' } },
      type: {
        system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
        code: 'XrequestId',
      },
    },
  ],
}
