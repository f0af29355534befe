import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { addSignature, type SignedProposal } from '../../node/core/trust/index.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import {
  encodeGovernanceMessage,
  MEMBERSHIP_TOPIC,
} from '../../node/membership/governance-messages.ts'
import { proposalId } from '../../node/membership/governance-pool.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import {
  call,
  freshIdentity,
  governedNetwork,
  membershipRecords,
  NAMES,
} from './governance-harness.ts'

/*
 * Membership governance on real nodes: three in-process nodes (libp2p on 127.0.0.1, LevelDB,
 * HTTP), a real SMTP server (smtp-server) receiving every node's email.
 */

describe('membership governance over the network', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  it('an admin proposes on A, an admin of B signs over the API: the change gossips, reaches its quorum on every node, is recorded and emailed; bad input is refused; a fork is alerted', async () => {
    smtp = await startSmtpServer()
    const root = await tempDir()
    const net = await governedNetwork(root, smtp.port)
    nodes = net.nodes
    const { dirs, tokens } = net
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    const P = '/api/v1/membership/proposals'

    // Bad input over the API: refused with its code, nothing recorded or pooled.
    expect(
      (await call(a, undefined, 'POST', P, { change: { type: 'quorum', quorum: 3 } })).status,
    ).toBe(401)
    const foreign = await call(a, tokens[1], 'POST', P, { change: { type: 'quorum', quorum: 3 } })
    expect([foreign.status, foreign.json.error.code]).toEqual([403, 'FORBIDDEN'])
    const taken = await openNodeDir(dirs[1]!)
    const conflict = await call(a, tokens[0], 'POST', P, {
      change: { type: 'add', member: { ...taken.identity, name: 'hospital-x' } },
    })
    expect([conflict.status, conflict.json.error.code]).toEqual([409, 'MEMBER_CONFLICT'])
    const badProof = await call(a, tokens[0], 'POST', P, {
      change: { type: 'add', member: await freshIdentity('hospital-x', true) },
    })
    expect([badProof.status, badProof.json.error.code]).toEqual([400, 'INVALID_PROOF'])
    const lowQuorum = await call(a, tokens[0], 'POST', P, { change: { type: 'quorum', quorum: 1 } })
    expect([lowQuorum.status, lowQuorum.json.error.code]).toEqual([400, 'MESSAGE_INVALID'])
    const unknownField = await call(a, tokens[0], 'POST', P, {
      change: { type: 'remove', name: 'hospital-c', x: 1 },
    })
    expect([unknownField.status, unknownField.json.error.code]).toEqual([400, 'MESSAGE_INVALID'])
    await a.governance.flushed()
    expect(await membershipRecords(a, 'hospital-a')).toEqual([])
    expect((await call(a, tokens[0], 'GET', P)).json.proposals).toEqual([])

    // A's admin proposes to add hospital-d; A signs (1 of 2).
    const d = await freshIdentity('hospital-d')
    const proposed = await call(a, tokens[0], 'POST', P, { change: { type: 'add', member: d } })
    expect(proposed.status).toBe(201)
    const id = proposed.json.id as string
    expect(proposed.json).toMatchObject({ signers: ['hospital-a'], state: 'pending', quorum: 2 })
    await waitFor('B and C hold the proposal', async () =>
      [b, c].every((n) => n.governance.view().proposals.some((p) => p.id === id)),
    )
    expect(b.governance.live.pending).toBeUndefined()

    // C's admin proposes another change on version 0 meanwhile.
    const rival = await call(c, tokens[2], 'POST', P, {
      change: { type: 'remove', name: 'hospital-a' },
    })
    expect([rival.status, rival.json.proposal.baseVersion]).toEqual([201, 0])
    await waitFor('B holds the rival', () =>
      b.governance.view().proposals.some((p) => p.id === rival.json.id),
    )

    // B's admin signs it over B's API: the quorum is reached on every node.
    const signed = await call(b, tokens[1], 'POST', `${P}/${id}/signatures`)
    expect(signed.status).toBe(200)
    expect(signed.json).toMatchObject({ signers: ['hospital-a', 'hospital-b'], state: 'accepted' })
    await waitFor('every node holds the change for its next cut', () =>
      nodes.every((n) => n.governance.live.pending?.proposal.change.type === 'add'),
    )
    // Signing twice changes nothing; a second vote on version 0 is refused, nothing written.
    const votes = await readFile(join(dirs[1]!, 'membership-votes.json'), 'utf8')
    const second = await call(b, tokens[1], 'POST', `${P}/${rival.json.id}/signatures`)
    expect([second.status, second.json.error.code]).toEqual([409, 'EQUIVOCATION'])
    await b.governance.flushed()
    expect(await readFile(join(dirs[1]!, 'membership-votes.json'), 'utf8')).toBe(votes)
    expect(
      (await membershipRecords(b, 'hospital-b')).filter(
        (r) => r.op === 'signed' && r.id === rival.json.id && r.signer === 'hospital-b',
      ),
    ).toEqual([])
    expect(b.governance.proposal(rival.json.id).signers).toEqual(['hospital-c'])
    expect((await call(b, tokens[1], 'POST', `${P}/${id}/signatures`)).json.signers).toEqual([
      'hospital-a',
      'hospital-b',
    ])
    const other = await call(c, tokens[2], 'POST', P, {
      change: { type: 'remove', name: 'hospital-a' },
    })
    // C has not voted on version 0, but A's change waits for the cut: C proposes on version 1.
    expect(other.status).toBe(201)
    expect(other.json.proposal.baseVersion).toBe(1)

    // Recorded in each node's own feed and emailed to each node's admins.
    for (const [i, node] of nodes.entries()) {
      await node.governance.flushed()
      const ops = (await membershipRecords(node, NAMES[i]!)).map((r) =>
        r.op === 'signed' ? `signed:${r.signer}` : r.op,
      )
      expect(ops.filter((o) => o !== 'proposed' && o !== 'signed:hospital-c')).toEqual(
        expect.arrayContaining(['signed:hospital-a', 'signed:hospital-b']),
      )
      // A's change, C's rival on version 0 and C's change on version 1.
      expect(ops.filter((o) => o === 'proposed')).toHaveLength(3)
    }
    const own = await membershipRecords(a, 'hospital-a')
    expect(own[0]).toMatchObject({ op: 'proposed', id, by: 'admin@hospital-a' })
    // B's copy of A's feed holds A's records: replicated like any entry.
    await waitFor('B replicated A', () => b.store.size('hospital-a') === a.store.size('hospital-a'))
    await waitFor('every admin got the proposal and both signatures', () => {
      const got = smtp!.received.map((m) => ({ to: m.rcptTo[0], mail: parseMail(m.raw) }))
      return NAMES.every((name) => {
        const mine = got.filter((g) => g.to === `admins@${name}.example`)
        const kinds = mine.map((g) => g.mail.headers.get('x-ehrlog-membership'))
        return kinds.includes('proposed') && kinds.filter((k) => k === 'signed').length >= 2
      })
    })
    const mail = smtp.received
      .map((m) => parseMail(m.raw))
      .find((m) => m.subject.includes('proposes'))!
    expect(mail.subject).toMatch(/\[Membership Proposal\] hospital-a proposes: add hospital-d/)
    expect(
      JSON.parse(mail.attachments[0]!.content.toString('utf8')).proposal.change.member.name,
    ).toBe('hospital-d')

    // Gossip from a member that is refused: a signature by a non-member, a base too far ahead.
    const bKeys = await openNodeDir(dirs[1]!)
    const pending = a.governance.live.pending!
    const stranger = {
      ...pending,
      signatures: [
        ...pending.signatures,
        { signer: 'hospital-z', signature: pending.signatures[0]!.signature },
      ],
    }
    expect(await a.governance.handle(encodeGovernanceMessage(stranger), 'hospital-b')).toBe(false)
    const future: SignedProposal = addSignature(
      { proposal: { ...pending.proposal, baseVersion: 5 }, signatures: [] },
      'hospital-b',
      bKeys.signingKey,
    )
    // A base this node does not hold yet is kept for when it catches up, not forwarded; one far
    // past any version a member could be behind by is refused.
    expect(await a.governance.handle(encodeGovernanceMessage(future), 'hospital-b')).toBe('ignore')
    expect(a.governance.view().proposals.map((p) => p.id)).not.toContain(proposalId(future))
    const far = addSignature(
      { proposal: { ...pending.proposal, baseVersion: 50 }, signatures: [] },
      'hospital-b',
      bKeys.signingKey,
    )
    expect(await a.governance.handle(encodeGovernanceMessage(far), 'hospital-b')).toBe(false)

    // A fork: hospital-b (its key) also signs a different change C proposes on version 0 —
    // outside its node, which would refuse the second vote — and gossips it.
    const cKeys = await openNodeDir(dirs[2]!)
    let fork: SignedProposal = {
      proposal: {
        ...pending.proposal,
        proposer: 'hospital-c',
        change: { type: 'quorum', quorum: 3 },
      },
      signatures: [],
    }
    fork = addSignature(
      addSignature(fork, 'hospital-c', cKeys.signingKey),
      'hospital-b',
      bKeys.signingKey,
    )
    await b.net.publishControl(MEMBERSHIP_TOPIC, encodeGovernanceMessage(fork))
    await waitFor('A and C alert the fork', async () => {
      const alerts = await Promise.all(
        [a, c].map(async (n, k) =>
          (await membershipRecords(n, k === 0 ? 'hospital-a' : 'hospital-c')).filter(
            (r) => r.op === 'alert' && r.alert === 'membership-equivocation',
          ),
        ),
      )
      return alerts.every((x) => x.length === 1)
    })
    const alert = (await membershipRecords(a, 'hospital-a')).find((r) => r.op === 'alert')!
    expect(alert).toMatchObject({
      alert: 'membership-equivocation',
      members: ['hospital-b'],
      version: 0,
    })
    await waitFor('the fork is emailed', () =>
      smtp!.received.some(
        (m) => parseMail(m.raw).headers.get('x-ehrlog-membership') === 'membership-equivocation',
      ),
    )
    // The first change stays the one pending: a fork never replaces it.
    expect(a.governance.live.pending?.proposal.change.type).toBe('add')
  }, 120_000)
})
