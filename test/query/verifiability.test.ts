import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { blsSign } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type CosignedCheckpoint,
  checkpointSigningMessage,
  cosignedFromJson,
} from '../../node/core/checkpoint.ts'
import {
  type ConsistencyAnswerJson,
  consistencyFromOf,
  verifyConsistencyAnswer,
} from '../../node/core/consistency-answer.ts'
import { decodeEntry } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { fromHex } from '../../node/core/hex.ts'
import { hashLeaf } from '../../node/core/merkle/index.ts'
import {
  type Membership,
  type QueryAnswerJson,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { QueryClient } from '../../node/net/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { makeIncident } from '../alerts/fixtures.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { startQueryNetwork } from './network-world.ts'
import { login } from './sessions.ts'

describe('entry proofs with a session, consistency since a kept checkpoint, user and alert records, on real nodes', () => {
  let root: string
  let dirs: string[]
  let membership: Membership
  let nodes: EhrlogNode[] = []
  let tokens: Record<string, string>
  let client: QueryClient
  let restore: (() => void) | undefined

  beforeAll(async () => {
    ;({ root, dirs, membership, nodes, tokens } = await startQueryNetwork())
    client = await QueryClient.start()
    const admin = login(nodes[0]!.auth, 'admin@hospital-a').claims
    await nodes[0]!.auth.approve(admin, 'audit@hospital-a')
    await waitFor('approval everywhere', () =>
      nodes.every((n) => n.auth.directory.get('audit@hospital-a')?.status === 'active'),
    )
  }, 60_000)

  afterEach(() => {
    restore?.()
    restore = undefined
  })

  afterAll(async () => {
    await client?.stop()
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(root, { recursive: true, force: true })
  })

  const trust = () => ({
    networkId: fromHex(membership.networkId, 32)!,
    membership: { version: 0, hash: fromHex(membership.networkId, 32)! },
    blsKeys: membership.members.map((m) => fromHex(m.blsPublicKey, 48)!),
  })
  const proofOf = async (i: number, id: string, authorization?: string) => {
    const response = await fetch(`${nodes[i]!.httpUrl}/api/v1/proof/${id}`, {
      headers: authorization ? { authorization } : {},
    })
    return {
      status: response.status,
      body: (await response.json()) as {
        bytes: string
        error: { code: string; message: string; details: Record<string, unknown> }
      },
    }
  }
  const recordedSince = async (node: EhrlogNode, origin: string, size: number) => {
    const out: AuditEvent[] = []
    for await (const e of node.store.entries(origin, size + 1)) out.push(e.entry.body as AuditEvent)
    return out
  }

  it("an auditor's or admin's session reads an entry's proof, and the read is recorded", async () => {
    const b = nodes[1]!
    const before = b.store.size('hospital-b')
    const audit = await proofOf(1, 'hospital-b:1', `Session ${tokens.audit}`)
    expect(audit.status).toBe(200)
    const entry = decodeEntry(new Uint8Array(Buffer.from(audit.body.bytes, 'base64')))
    const patientId = (entry.entry.body as AuditEvent).patientId
    expect((await proofOf(1, 'hospital-b:2', `Session ${tokens.admin}`)).status).toBe(200)
    expect(await recordedSince(b, 'hospital-b', before)).toEqual([
      expect.objectContaining({
        patientId,
        actorId: 'audit@hospital-a',
        action: 'read',
        resource: 'audit_log',
        outcome: 'success',
        notes: 'via http, entry hospital-b:1 with its inclusion proof',
      }),
      expect.objectContaining({ actorId: 'admin@hospital-a', action: 'read' }),
    ])
  })

  it("the EHR's API token only appends: no entry contents for it, nor for patients or pending auditors", async () => {
    const a = nodes[0]!
    const before = a.store.size('hospital-a')
    const config = JSON.parse(await readFile(join(dirs[0]!, 'config.json'), 'utf8')) as {
      apiToken: string
    }
    const bearer = await proofOf(0, 'hospital-b:1', `Bearer ${config.apiToken}`)
    expect(bearer.status).toBe(401)
    expect(bearer.body.error.code).toBe('UNAUTHORIZED')
    expect(bearer.body).not.toHaveProperty('bytes')
    expect((await proofOf(0, 'hospital-b:1')).status).toBe(401)
    const patient = await proofOf(0, 'hospital-b:1', `Session ${tokens.alice}`)
    expect(patient.status).toBe(403)
    expect(patient.body.error.details.reason).toBe('role')
    const pending = await proofOf(0, 'hospital-b:1', `Session ${tokens.eve}`)
    expect(pending.status).toBe(403)
    expect(pending.body.error.details.reason).toBe('pending')
    expect(a.store.size('hospital-a')).toBe(before) // nothing read, nothing recorded
  })

  it('a missing entry is "no such entry"; one past the checkpoint says so; a bad id is 400', async () => {
    const a = nodes[0]!
    const missing = await proofOf(0, 'hospital-b:999', `Session ${tokens.audit}`)
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('NOT_FOUND')
    expect(missing.body.error.message).toMatch(/^no such entry hospital-b:999/)
    await a.ingest.submit([makeEvent(500)])
    const fresh = `hospital-a:${a.store.size('hospital-a')}`
    const uncovered = await proofOf(0, fresh, `Session ${tokens.audit}`)
    expect(uncovered.status).toBe(404)
    expect(uncovered.body.error.message).toMatch(/is not covered by a cosigned checkpoint yet/)
    const bad = await proofOf(0, 'nonsense', `Session ${tokens.audit}`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.field).toBe('entryId')
  })

  it('proves, over HTTP and libp2p, that the latest checkpoint extends a kept one', async () => {
    const a = nodes[0]!
    const kept = a.checkpoints.latest()!
    await a.ingest.submit([makeEvent(600), makeEvent(601)])
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-a') === a.store.size('hospital-a')),
    )
    await a.checkpoints.runRound()
    await waitFor('new checkpoint everywhere', () =>
      nodes.every((n) => n.checkpoints.latest()!.checkpoint.timeMs > kept.checkpoint.timeMs),
    )
    const from = consistencyFromOf(kept)
    const http = (await (
      await fetch(
        `${nodes[2]!.httpUrl}/api/v1/checkpoint/consistency?from=${encodeURIComponent(from)}`,
      )
    ).json()) as ConsistencyAnswerJson
    const verdict = verifyConsistencyAnswer(kept, http, trust())
    const grown = verdict.origins.find((o) => o.origin === 'hospital-a')!
    expect(grown.toSize).toBeGreaterThan(grown.fromSize)
    expect(http.proofs.find((p) => p.origin === 'hospital-a')!.proof.length).toBeGreaterThan(0)

    const overLibp2p = await client.query(membership.members[1]!, {
      networkId: membership.networkId,
      token: '',
      filter: undefined,
      consistency: { from },
    })
    expect(verifyConsistencyAnswer(kept, overLibp2p, trust()).origins).toEqual(verdict.origins)

    const bad = await fetch(`${nodes[2]!.httpUrl}/api/v1/checkpoint/consistency?from=hospital-a:x`)
    expect(bad.status).toBe(400)
    expect(
      ((await bad.json()) as { error: { details: { field: string } } }).error.details.field,
    ).toBe('from')
    await expect(
      client.query(membership.members[1]!, {
        networkId: membership.networkId,
        token: '',
        filter: undefined,
        consistency: {},
      }),
    ).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })
  })

  it('a network that cosigned a rewritten history is refused, naming the origin', async () => {
    const b = nodes[1]!
    const kept = b.checkpoints.latest()!
    const ids = await Promise.all(dirs.map((d) => openNodeDir(d)))
    const aSize = b.store.size('hospital-a')
    // Every member signs a checkpoint whose hospital-a feed is another history of the same
    // length as the one the store holds: the store's honest proof cannot link the two.
    const forge = (feeds: CosignedCheckpoint['checkpoint']['feeds']): CosignedCheckpoint => {
      const checkpoint = { ...kept.checkpoint, timeMs: kept.checkpoint.timeMs + 1, feeds }
      const message = checkpointSigningMessage(checkpoint)
      return aggregateCosignatures(
        checkpoint,
        new Map(ids.map((id, i) => [i, blsSign(id.blsSecretKey, message)])),
        ids.length,
      )
    }
    const other = hashLeaf(new TextEncoder().encode('another history'))
    const rewritten = forge(
      kept.checkpoint.feeds.map((f) =>
        f.origin === 'hospital-a' ? { ...f, treeSize: aSize, root: other } : f,
      ),
    )
    const honestLatest = b.checkpoints.latest.bind(b.checkpoints)
    b.checkpoints.latest = () => rewritten
    restore = () => {
      b.checkpoints.latest = honestLatest
    }
    const ask = async () =>
      (await (
        await fetch(
          `${b.httpUrl}/api/v1/checkpoint/consistency?from=${encodeURIComponent(consistencyFromOf(kept))}`,
        )
      ).json()) as ConsistencyAnswerJson
    const answer = await ask()
    expect(cosignedFromJson(answer.cosigned).checkpoint.timeMs).toBe(rewritten.checkpoint.timeMs)
    let error: unknown
    try {
      verifyConsistencyAnswer(kept, answer, trust())
    } catch (err) {
      error = err
    }
    expect(error).toMatchObject({
      code: 'INVALID_PROOF',
      details: { origin: 'hospital-a' },
      message: expect.stringMatching(/^the history of hospital-a was rewritten/),
    })
    // A truncated feed, and another root at the same size, are refused as well.
    const shrunk = forge(
      kept.checkpoint.feeds.map((f) =>
        f.origin === 'hospital-b' ? { ...f, treeSize: f.treeSize - 1 } : f,
      ),
    )
    b.checkpoints.latest = () => shrunk
    await expect(
      ask().then((x) => verifyConsistencyAnswer(kept, x, trust())),
    ).rejects.toMatchObject({ code: 'INVALID_PROOF', details: { origin: 'hospital-b' } })
    const sameSize = forge(
      kept.checkpoint.feeds.map((f) => (f.origin === 'hospital-b' ? { ...f, root: other } : f)),
    )
    b.checkpoints.latest = () => sameSize
    await expect(ask().then((x) => verifyConsistencyAnswer(kept, x, trust()))).rejects.toThrow(
      /^the history of hospital-b was rewritten: another root at the same tree size/,
    )
  })

  it('auditors see user and alert records with a kind filter, verified; a feed has no gaps', async () => {
    const query = (token: string, filter: object) =>
      client.query(membership.members[2]!, {
        networkId: membership.networkId,
        token,
        filter,
        limit: 1000,
      }) as Promise<QueryAnswerJson>
    const verify = (answer: QueryAnswerJson, patientId?: string) =>
      verifyQueryAnswer(answer, {
        keys: membership.keys,
        filter: answer.filter,
        scope: patientId ? { patientId } : {},
      })
    const all = await query(tokens.audit!, { kind: 'all', origin: 'hospital-a' })
    const checked = verify(all)
    expect(checked.failures).toEqual([])
    const seqs = checked.verified.map((v) => v.entry.entry.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)) // no gap
    const kinds = new Set(checked.verified.map((v) => v.entry.entry.kind))
    expect(kinds).toEqual(new Set(['user', 'event']))

    const users = verify(await query(tokens.admin!, { kind: 'user' }))
    expect(users.failures).toEqual([])
    expect(users.verified.every((v) => v.entry.entry.kind === 'user')).toBe(true)
    expect(
      users.verified.map((v) => (v.entry.entry.body as { username?: string }).username),
    ).toContain('alice@hospital-a')
    // Events only by default; and a node slipping records into an events answer is caught.
    const events = verify(await query(tokens.audit!, { origin: 'hospital-a' }))
    expect(events.verified.every((v) => v.entry.entry.kind === 'event')).toBe(true)
    const slipped = verifyQueryAnswer(
      { ...all, filter: { origin: 'hospital-a' } },
      {
        keys: membership.keys,
        filter: { origin: 'hospital-a' },
      },
    )
    expect(slipped.failures[0]!.reason).toBe('is a user record, the filter asks for kind event')
    // A patient still sees only events about themselves, whatever kind they ask for.
    const alice = await query(tokens.alice!, { kind: 'all' })
    const hers = verify(alice, 'MRN-A')
    expect(hers.failures).toEqual([])
    expect(hers.verified.length).toBeGreaterThan(0)
    expect(
      hers.verified.every(
        (v) =>
          v.entry.entry.kind === 'event' &&
          (v.entry.entry.body as AuditEvent).patientId === 'MRN-A',
      ),
    ).toBe(true)
    // An alert hospital-b recorded in its feed: visible with kind=alert, verified.
    const b = nodes[1]!
    const bSize = b.store.size('hospital-b')
    await b.alerts.report(
      makeIncident('modified', {
        reportingNode: 'hospital-b',
        origin: 'hospital-a',
        entryIds: ['hospital-a:3'],
        summary: 'Entry hospital-a:3 fails verification in the replica on hospital-b (test).',
      }),
    )
    await waitFor('the alert at c', () => nodes[2]!.store.size('hospital-b') > bSize)
    const alerts = verify(await query(tokens.audit!, { kind: 'alert' }))
    expect(alerts.failures).toEqual([])
    expect(alerts.verified.map((v) => [v.entry.entry.kind, v.entry.entry.origin])).toEqual([
      ['alert', 'hospital-b'],
    ])
    await expect(query(tokens.audit!, { kind: 'users' })).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      details: { field: 'kind' },
    })
  })
})
