import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { saveSession } from '../../client/session-store.ts'
import { validateAuditEventBundle } from '../../node/core/fhir/index.ts'
import { COMPLETENESS_PROOF_EXTENSION } from '../../node/core/fhir/search-bundle.ts'
import { verifySearchBundle } from '../../node/core/fhir/search-verify.ts'
import {
  checkAnswerCompleteness,
  crossCheckAnswers,
  type Membership,
  type QueryAnswerJson,
} from '../../node/core/trust/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import type { QueryService } from '../../node/query/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { balpProblems } from '../core/fhir/balp-profiles.ts'
import { runCli } from '../helpers/cli.ts'
import { bodiesAfter } from '../helpers/fixtures.ts'
import { startQueryNetwork } from '../query/network-world.ts'

// biome-ignore lint/suspicious/noExplicitAny: tests reach into Bundles at any depth to break them
type Json = Record<string, any>

describe('GET /fhir/AuditEvent (ITI-81) on a real network: searchset Bundles with proofs', () => {
  let root: string
  let membership: Membership
  let nodes: EhrlogNode[] = []
  let tokens: Record<string, string>

  beforeAll(async () => {
    ;({ root, membership, nodes, tokens } = await startQueryNetwork())
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(root, { recursive: true, force: true })
  })

  const search = async (i: number, query: string, user = 'admin') => {
    const res = await fetch(`${nodes[i]!.httpUrl}/fhir/AuditEvent${query}`, {
      headers: { authorization: `Session ${tokens[user]}` },
    })
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.json()) as Json,
    }
  }
  const verify = (bundle: unknown, patientId?: string) =>
    verifySearchBundle(bundle, {
      keys: membership.keys,
      ...(patientId ? { scope: { patientId } } : {}),
    })
  const patientsOf = (bundle: Json) =>
    (bundle.entry ?? []).map((e: Json) => e.resource.entity[0].what.identifier.value)
  const storeSizes = () => nodes.map((n) => [...n.store.sizes()].map(([, s]) => s).join(','))

  it('pages a patient trail by entity.identifier (CH:ATC style), every page valid R4 and verified', async () => {
    let url: string | undefined =
      '?entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|MRN-A&action=R&_count=2'
    const seen: string[] = []
    let pages = 0
    while (url) {
      const { status, type, body } = await search(0, url)
      expect(status).toBe(200)
      expect(type).toContain('application/fhir+json')
      expect(body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' })
      expect(validateAuditEventBundle(body)).toEqual([])
      expect(body.total).toBeUndefined() // paged: no count of every match
      const checked = verify(body)
      expect(checked.result.failures).toEqual([])
      expect(checked.result.verified).toHaveLength(body.entry.length)
      expect(checked.result.cosignedBy?.count).toBeGreaterThan(0)
      for (const v of checked.result.verified) seen.push(v.id)
      expect(patientsOf(body).every((p: string) => p === 'MRN-A')).toBe(true)
      expect(body.link[0]).toMatchObject({ relation: 'self' })
      const next = body.link.find((l: Json) => l.relation === 'next')?.url
      url = next === undefined ? undefined : new URL(next).search
      pages++
    }
    expect(pages).toBe(3)
    expect(seen).toHaveLength(5) // 3 reads at hospital-a, 2 at hospital-b
    expect(new Set(seen).size).toBe(5)
    const whole = await search(1, '?patient=Patient/MRN-A&action=R')
    expect(whole.body.total).toBe(5)
  })

  it('answers date ranges with prefixes, type, subtype and outcome', async () => {
    const one = await search(
      0,
      '?patient=MRN-A&date=ge2023-12-04T19:00:01Z&date=lt2023-12-04T19:00:02Z&action=R',
    )
    expect(one.status).toBe(200)
    expect(one.body.entry).toHaveLength(1)
    expect(one.body.entry[0].resource.period.start).toBe('2023-12-04T19:00:01.000Z')
    const byDay = await search(0, '?patient=MRN-A&date=2023-12-04&subtype=read')
    expect(byDay.body.total).toBe(5)
    const queries = await search(0, '?type=http://dicom.nema.org/resources/ontology/DCM|110112')
    expect(queries.status).toBe(200)
    expect(queries.body.entry.length).toBeGreaterThan(0)
    for (const e of queries.body.entry) expect(e.resource.type.code).toBe('110112')
    const failed = await search(0, '?outcome=4&type=110110')
    expect(failed.body.total).toBe(0)
    expect(failed.body.entry).toBeUndefined()
    expect(validateAuditEventBundle(failed.body)).toEqual([])
  })

  it('shows BALP profiles with mapping=balp: valid R4, verified, one AuditEvent per patient', async () => {
    const { status, body } = await search(0, '?patient=MRN-A&action=R&mapping=balp')
    expect(status).toBe(200)
    expect(validateAuditEventBundle(body)).toEqual([])
    expect(body.entry).toHaveLength(5)
    for (const e of body.entry) {
      const { extension, ...shown } = e.resource
      expect(balpProblems('PatientRead', shown)).toEqual([])
      expect(extension).toHaveLength(2) // the ehrlog-event and inclusion-proof extensions
    }
    const checked = verify(body)
    expect(checked.result.failures).toEqual([])
    expect(checked.result.verified).toHaveLength(5)
    // The verifier maps as the self link says: the same Bundle checked as the ehrlog mapping
    // (or a BALP element changed) is not what its entries say.
    const asked = `${nodes[0]!.httpUrl}/fhir/AuditEvent?patient=MRN-A&action=R`
    const asEhrlog = verifySearchBundle(body, { keys: membership.keys, requested: asked })
    expect(asEhrlog.result.verified).toEqual([])
    body.entry[0].resource.agent[2].requestor = false
    expect(verify(body).result.failures).toEqual([
      expect.objectContaining({
        reason: 'the AuditEvent shown is not the mapping of its proven entry',
      }),
    ])
    // ehrlog's own records of these searches: PatientQuery (one patient) and Query ('*').
    const own = await search(0, '?type=110112&mapping=balp')
    const profiles = new Set(own.body.entry.map((e: Json) => e.resource.meta?.profile?.[0]))
    expect(profiles).toContain(
      'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery',
    )
    for (const e of own.body.entry) {
      const name = e.resource.meta?.profile?.[0]?.split('IHE.BasicAudit.')[1]
      if (name !== undefined) expect(balpProblems(name, e.resource)).toEqual([])
      else expect(e.resource.outcome).toBe('4') // a refused search: BALP has no pattern
    }
    expect(verify(own.body).result.failures).toEqual([])
    const bad = await search(0, '?mapping=dicom')
    expect(bad.status).toBe(400)
    expect(bad.body.issue[0].expression).toEqual(['mapping'])
  })

  it('records every search as a query of the audit log', async () => {
    const a = nodes[0]!
    const before = a.store.size('hospital-a')
    const { status } = await search(0, '?patient=MRN-B&action=R')
    expect(status).toBe(200)
    const recorded = await bodiesAfter(a.store, 'hospital-a', before)
    expect(recorded).toEqual([
      expect.objectContaining({
        patientId: 'MRN-B',
        actorId: 'admin@hospital-a',
        action: 'query',
        resource: 'audit_log',
        notes: 'via http, filter {"action":"export,print,read","patient":"MRN-B"}',
      }),
    ])
  })

  it('shows a patient only their own trail, and refuses (and records) another patient', async () => {
    const own = await search(0, '?_count=100', 'alice')
    expect(own.status).toBe(200)
    expect(patientsOf(own.body).length).toBeGreaterThan(0)
    expect(new Set(patientsOf(own.body))).toEqual(new Set(['MRN-A']))
    expect(verify(own.body, 'MRN-A').result.failures).toEqual([])
    const a = nodes[0]!
    const before = a.store.size('hospital-a')
    const other = await search(0, '?patient=MRN-B', 'alice')
    expect(other.status).toBe(403)
    expect(other.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'forbidden' }],
    })
    const last = await a.store.getEntries([{ origin: 'hospital-a', seq: before + 1 }])
    expect(last[0]?.entry.body).toMatchObject({ patientId: 'MRN-B', outcome: 'failure' })
  })

  it('refuses unknown and malformed parameters with a 400 OperationOutcome, writing nothing', async () => {
    // The previous test's record replicates to every node first.
    await waitFor('replicas agree', () => new Set(storeSizes()).size === 1)
    const sizes = storeSizes()
    for (const [query, field] of [
      ['?foo=1', 'foo'],
      ['?patient:exact=MRN-A', 'patient:exact'],
      ['?date=2023-13-01', 'date'],
      ['?date=xx2023-01-01', 'date'],
      ['?date=2023-12-04T19:00:00', 'date'],
      ['?action=X', 'action'],
      ['?type=http://example.org|110110', 'type'],
      ['?patient=Practitioner/1', 'patient'],
      ['?patient=MRN-A&entity.identifier=MRN-B', 'patient'],
      ['?outcome=1', 'outcome'],
      ['?_count=0', 'limit'],
      ['?_count=5&_count=6', '_count'],
      ['?_cursor=%%%', 'cursor'],
      ['?type=110114&action=C', 'action'],
    ] as const) {
      const { status, body } = await search(0, query)
      expect({ query, status }).toEqual({ query, status: 400 })
      expect(body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid', expression: [field] }],
      })
    }
    const noSession = await fetch(`${nodes[0]!.httpUrl}/fhir/AuditEvent`)
    expect(noSession.status).toBe(401)
    expect(await noSession.json()).toMatchObject({ issue: [{ code: 'login' }] })
    expect(storeSizes()).toEqual(sizes)
  })

  it('catches a tampered Bundle: a changed resource, changed bytes, reordered or dropped entries', async () => {
    const query = '?patient=MRN-A&action=R'
    const fresh = async () => (await search(0, query)).body
    const good = await fresh()
    expect(verify(good).result.failures).toEqual([])

    const shown = await fresh()
    shown.entry[1].resource.agent[0].who.display = 'Someone Else'
    expect(verify(shown).result.failures).toEqual([
      expect.objectContaining({
        reason: 'the AuditEvent shown is not the mapping of its proven entry',
      }),
    ])

    const bytes = await fresh()
    const proof = bytes.entry[0].resource.extension.at(-1).extension[0]
    const decoded = JSON.parse(Buffer.from(proof.valueBase64Binary, 'base64').toString('utf8'))
    decoded.body.actorId = 'nobody'
    proof.valueBase64Binary = Buffer.from(JSON.stringify(decoded)).toString('base64')
    expect(verify(bytes).result.failures.length).toBeGreaterThan(0)

    // A node that answers a wider search than asked, and says so in its self link, is
    // caught when the verifier checks against what it asked itself.
    const wider = (await search(0, '?action=R')).body
    const asked = `${nodes[0]!.httpUrl}/fhir/AuditEvent${query}`
    const widerChecked = verifySearchBundle(wider, { keys: membership.keys, requested: asked })
    expect(widerChecked.result.failures.map((f) => f.reason)).toContain(
      'has another patientId than the filter',
    )

    const swapped = await fresh()
    swapped.entry.reverse()
    expect(
      verify(swapped)
        .result.failures.map((f) => f.reason)
        .join(),
    ).toContain('out of (origin, seq) order')

    const dropped = await fresh()
    dropped.entry.splice(1, 1)
    const alone = verify(dropped)
    expect(alone.result.failures).toEqual([]) // a page's proofs cannot show an omission…
    const other = verify((await search(1, query)).body)
    const crossed = crossCheckAnswers(
      { node: 'hospital-a', result: alone.result },
      { node: 'hospital-b', result: other.result },
    )
    // …the cross-check with another node's answer to the same search does.
    expect(crossed).toEqual([
      expect.objectContaining({ reason: expect.stringContaining('dropped by hospital-a') }),
    ])
  })

  it('ehrlog fhir-search and verify-fhir verify Bundles, refuse tampered ones, cross-check nodes', async () => {
    const network = join(root, 'network.json')
    const env = { EHRLOG_CONFIG_DIR: join(root, 'config-fhir-admin') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: nodes[0]!.httpUrl,
      username: 'admin@hospital-a',
      token: tokens.admin!,
      role: 'admin',
      expiresMs: Date.now() + 3600_000,
    })
    const [atA, atB] = [join(root, 'search-a.json'), join(root, 'search-b.json')]
    const query = 'patient=MRN-A&action=R'
    const fetched = await runCli(['fhir-search', query, '--network', network, '--out', atA], env)
    expect(fetched.err).toBe('')
    expect(fetched.out).toMatch(/answer: 5 entries verified \(5 cosigned.*; 0 failures/)
    const fromB = ['fhir-search', query, '--network', network, '--node', nodes[1]!.httpUrl]
    expect((await runCli([...fromB, '--out', atB], env)).code).toBe(0)
    const both = await runCli(['verify-fhir', atA, atB, '--network', network], env)
    expect(both.code).toBe(0)
    expect(both.out).toContain('agree wherever both are complete')
    // BALP output through the CLI: verified against the BALP mapping the search asked for.
    const balp = await runCli(['fhir-search', `${query}&mapping=balp`, '--network', network], env)
    expect(balp.code).toBe(0)
    expect(balp.out).toMatch(/answer: 5 entries verified \(5 cosigned.*; 0 failures/)
    expect(balp.out).toContain('IHE.BasicAudit.PatientRead')

    const bundle = JSON.parse(await readFile(atA, 'utf8'))
    bundle.entry[2].resource.entity[0].what.identifier.value = 'MRN-B'
    await writeFile(atA, JSON.stringify(bundle))
    const changed = await runCli(['verify-fhir', atA, '--network', network], env)
    expect(changed.code).toBe(3)
    expect(changed.out).toMatch(/FAILED hospital-\w:\d+: the AuditEvent shown is not the mapping/)

    bundle.entry.splice(2, 1)
    await writeFile(atA, JSON.stringify(bundle))
    const dropped = await runCli(['verify-fhir', atA, atB, '--network', network], env)
    expect(dropped.code).toBe(3)
    expect(dropped.out).toContain(`dropped by ${atA}`)

    const paged = await runCli(['fhir-search', `${query}&_count=2`, '--network', network], env)
    const next = /next page: (\S+)/.exec(paged.err)?.[1]
    expect(next).toContain('_cursor=')
    const page2 = await runCli(['fhir-search', next!, '--network', network], env)
    expect(page2.code).toBe(0)
    expect(page2.out).toMatch(/answer: 2 entries verified/)

    const refused = await runCli(['fhir-search', 'bogus=1', '--network', network], env)
    expect(refused.code).toBe(2)
    expect(refused.err).toContain('bogus is not a supported search parameter')
  })

  const completenessOf = (bundle: Json) =>
    (bundle.meta.extension as Json[]).find((e) => e.url === COMPLETENESS_PROOF_EXTENSION)

  /** Every page of a search, from its first URL (a query string), following `next`. */
  const allPages = async (i: number, first: string, user = 'admin') => {
    const pages: Json[] = []
    let url: string | undefined = first
    while (url !== undefined) {
      const { status, body } = await search(i, url, user)
      expect(status, JSON.stringify(body)).toBe(200)
      pages.push(body)
      const next = body.link.find((l: Json) => l.relation === 'next')?.url
      url = next === undefined ? undefined : new URL(next).search
    }
    return pages
  }

  /** Makes `node` rewrite its query answers (as a lying node, or anyone in between, could). */
  const lie = (node: EhrlogNode, tamper: (answer: QueryAnswerJson) => void) => {
    const service = node.query as QueryService
    const honest = service.answerAs.bind(service)
    service.answerAs = async (session, request) => {
      const answer = await honest(session, request)
      tamper(answer)
      return answer
    }
    return () => {
      service.answerAs = honest
    }
  }

  const originOf = (e: Json) => e.resource.source.observer.display as string

  it("carries the completeness proof on every page of one patient's whole trail: valid R4, proven complete", async () => {
    const pages = await allPages(
      1,
      '?entity.identifier=urn:oid:2.16.756.5.30.1.127.3.10.3|MRN-A&_count=10',
    )
    expect(pages.length).toBeGreaterThan(1)
    const checked = pages.map((body) => {
      expect(validateAuditEventBundle(body)).toEqual([])
      expect(completenessOf(body)).toEqual({
        url: COMPLETENESS_PROOF_EXTENSION,
        extension: [
          { url: 'patientId', valueString: 'MRN-A' },
          { url: 'proof', valueBase64Binary: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) },
        ],
      })
      const v = verify(body)
      expect(v.result.failures).toEqual([])
      expect(v.patientId).toBe('MRN-A')
      return v
    })
    const statement = checkAnswerCompleteness({
      keys: membership.keys,
      patientId: 'MRN-A',
      pages: checked.map((v) => v.page),
    })
    // 3 events at hospital-a, 2 at hospital-b under the checkpoint's cut.
    expect(statement.origins.reduce((n, o) => n + o.count, 0)).toBe(5)
    expect(statement.cosignedBy.of).toBe(3)
    // A patient's session names no patient: the scope makes it their whole trail.
    const own = await allPages(1, '?_count=100', 'alice')
    expect(completenessOf(own[0]!)?.extension[0]).toEqual({
      url: 'patientId',
      valueString: 'MRN-A',
    })
    const ownChecked = own.map((body) => verify(body, 'MRN-A'))
    expect(ownChecked[0]!.patientId).toBe('MRN-A')
    expect(
      checkAnswerCompleteness({
        keys: membership.keys,
        patientId: 'MRN-A',
        pages: ownChecked.map((v) => v.page),
      }).patientId,
    ).toBe('MRN-A')
  })

  it('a narrowed search carries no completeness proof, and none is asked of it', async () => {
    for (const query of [
      '?patient=MRN-A&action=R',
      '?patient=MRN-A&date=ge2020-01-01',
      '?patient=MRN-A&agent=someone',
      '?patient=MRN-A&outcome=0',
      '?patient=MRN-A&type=110110',
      '?type=110110',
    ]) {
      const { status, body } = await search(1, query)
      expect({ query, status }).toEqual({ query, status: 200 })
      expect({ query, proof: completenessOf(body) }).toEqual({ query, proof: undefined })
      const v = verify(body)
      expect(v.result.failures).toEqual([])
      expect({ query, patientId: v.patientId }).toEqual({ query, patientId: undefined })
    }
  })

  it('an entry dropped from a page is refused by the completeness proof, naming the missing count', async () => {
    const pages = await allPages(1, '?patient=MRN-A&_count=10')
    const at = pages.findIndex((p) =>
      (p.entry ?? []).some((e: Json) => originOf(e) === 'hospital-b'),
    )
    const page = pages[at]!
    page.entry.splice(
      page.entry.findIndex((e: Json) => originOf(e) === 'hospital-b'),
      1,
    )
    const checked = pages.map((body) => verify(body))
    // Each page on its own still verifies: its proofs cannot show an omission…
    expect(checked.flatMap((v) => v.result.failures)).toEqual([])
    // …the completeness proof does.
    expect(() =>
      checkAnswerCompleteness({
        keys: membership.keys,
        patientId: 'MRN-A',
        pages: checked.map((v) => v.page),
      }),
    ).toThrow("1 of patient MRN-A's 2 entries at hospital-b up to 4 are missing")
    // And a proof moved onto another patient's search is for the wrong patient.
    const bob = (await search(1, '?patient=MRN-B')).body
    bob.meta.extension = bob.meta.extension.filter((e: Json) => e !== completenessOf(bob))
    bob.meta.extension.push(completenessOf(pages[0]!))
    expect(() =>
      checkAnswerCompleteness({
        keys: membership.keys,
        patientId: 'MRN-B',
        pages: [verify(bob).page],
      }),
    ).toThrow('the completeness proof is for patient MRN-A, not MRN-B')
  })

  it("ehrlog fhir-search collects every page of a patient's own trail and proves it complete; a dropped entry or a missing proof exits 3", async () => {
    const network = join(root, 'network.json')
    const env = { EHRLOG_CONFIG_DIR: join(root, 'config-fhir-complete') }
    await saveSession({ env } as unknown as CliContext, {
      v: 1,
      node: nodes[0]!.httpUrl,
      username: 'alice@hospital-a',
      token: tokens.alice!,
      role: 'patient',
      expiresMs: Date.now() + 3600_000,
    })
    const trail = join(root, 'trail.json')
    const ok = await runCli(['fhir-search', '_count=10', '--network', network, '--out', trail], env)
    expect(ok.code, ok.out + ok.err).toBe(0)
    expect(ok.out).toMatch(/^page 1: 10 entries verified/m)
    expect(ok.out).toMatch(
      /^complete: every access to patient MRN-A recorded up to checkpoint \S+Z \([0-9a-f]{12}\), cosigned by [23] of 3$/m,
    )
    const pageCount = Number(/(\d+) pages written/.exec(ok.err)?.[1])
    expect(pageCount).toBeGreaterThanOrEqual(3)
    const files = [
      trail,
      ...Array.from({ length: pageCount - 1 }, (_, i) => join(root, `trail.p${i + 2}.json`)),
    ]
    // The saved pages verify offline, together, with the same statement.
    const offline = await runCli(['verify-fhir', ...files, '--network', network], env)
    expect(offline.code, offline.out).toBe(0)
    expect(offline.out).toMatch(
      /^complete: every access to patient MRN-A recorded up to checkpoint/m,
    )
    // Page 1 alone is not the whole trail.
    const partial = await runCli(['verify-fhir', trail, '--network', network], env)
    expect(partial.code).toBe(3)
    expect(partial.out).toMatch(
      /^FAILED completeness: \d+ of patient MRN-A's \d+ entries at hospital-\w up to \d+ are missing$/m,
    )

    // One of the patient's hospital-b entries taken out of a saved page.
    const saved = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8'))))
    const at = saved.findIndex((b) =>
      (b.entry ?? []).some((e: Json) => originOf(e) === 'hospital-b'),
    )
    saved[at].entry = saved[at].entry.filter(
      (e: Json, i: number, all: Json[]) =>
        originOf(e) !== 'hospital-b' || all.findIndex((x) => originOf(x) === 'hospital-b') !== i,
    )
    await writeFile(files[at]!, JSON.stringify(saved[at]))
    const cut = await runCli(['verify-fhir', ...files, '--network', network], env)
    expect(cut.code).toBe(3)
    expect(cut.out).toContain(
      "FAILED completeness: 1 of patient MRN-A's 2 entries at hospital-b up to 4 are missing\n",
    )
    expect(cut.out).not.toContain('complete: every access')

    // A node that leaves one of the patient's hospital-b entries out of its answer.
    let restore = lie(nodes[0]!, (answer) => {
      const i = answer.entries.findIndex(
        (e) => JSON.parse(Buffer.from(e.bytes, 'base64').toString('utf8')).origin === 'hospital-b',
      )
      if (i >= 0) answer.entries.splice(i, 1)
    })
    try {
      const dropped = await runCli(['fhir-search', '', '--network', network], env)
      expect(dropped.code).toBe(3)
      expect(dropped.out).toContain(
        "FAILED completeness: 1 of patient MRN-A's 2 entries at hospital-b up to 4 are missing\n",
      )
      expect(dropped.out).not.toContain('complete: every access')
    } finally {
      restore()
    }
    // A node that sends no proof: refused, since fhir-search has no cross-check to fall back on.
    restore = lie(nodes[0]!, (answer) => {
      delete answer.completeness
    })
    try {
      const unproven = await runCli(['fhir-search', '', '--network', network], env)
      expect(unproven.code).toBe(3)
      expect(unproven.out).toContain('completeness: not proven (the node sent no proof)\n')
      expect(unproven.out).toContain("refused: one patient's whole trail must be proven complete")
    } finally {
      restore()
    }
    // A narrowed search claims nothing either way.
    const narrowed = await runCli(['fhir-search', 'action=R', '--network', network], env)
    expect(narrowed.code).toBe(0)
    expect(narrowed.out).not.toContain('complete')
  }, 60_000)
})
