import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { SignedProposal } from '../../node/core/trust/index.ts'
import { PENDING_FILE } from '../../node/membership/governance-pending.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login } from '../query/sessions.ts'
import { call, governedNetwork, membershipRecords, NAMES } from './governance-harness.ts'

/*
 * A pending proposal survives a restart of every node (membership/pending.json): real nodes
 * (libp2p on 127.0.0.1, LevelDB, HTTP) and a real SMTP server, stopped and started again.
 */

const P = '/api/v1/membership/proposals'

async function savedProposals(dir: string): Promise<SignedProposal[]> {
  const text = await readFile(join(dir, PENDING_FILE), 'utf8')
  return (JSON.parse(text) as { proposals: SignedProposal[] }).proposals
}

describe('pending membership proposals across a restart of every node', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  it('are reloaded from the node folder, signed after the restart, applied, and then pruned from it', async () => {
    smtp = await startSmtpServer()
    const net = await governedNetwork(await tempDir(), smtp.port)
    nodes = net.nodes
    const { dirs, tokens } = net
    const proposed = await call(nodes[0]!, tokens[0], 'POST', P, {
      change: { type: 'quorum', quorum: 3 },
    })
    expect(proposed.status).toBe(201)
    const id = proposed.json.id as string
    await waitFor('every node holds the proposal', () =>
      nodes.every((n) => n.governance.view().proposals.some((p) => p.id === id)),
    )
    const proposedMails = () =>
      smtp!.received.filter(
        (m) => parseMail(m.raw).headers.get('x-ehrlog-membership') === 'proposed',
      )
    await waitFor('every admin got the proposal', () => proposedMails().length === 3)

    // Every node stops: the gossiped pool was in memory only; each folder has it.
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    for (const dir of dirs) {
      const saved = await savedProposals(dir)
      expect(saved.map((s) => s.signatures.map((g) => g.signer))).toEqual([['hospital-a']])
    }

    // B starts alone (no peer to gossip it again): the proposal is back, from its folder.
    nodes = await startNodes([dirs[1]!])
    const b = nodes[0]!
    expect(b.governance.view().proposals.map((p) => [p.id, p.signers])).toEqual([
      [id, ['hospital-a']],
    ])
    nodes.push(...(await startNodes([dirs[0]!, dirs[2]!])))
    const [, a, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    for (const n of [a, c]) expect(n.governance.view().proposals.map((p) => p.id)).toEqual([id])
    await waitFor('a full mesh', () => nodes.every((n) => n.net.peers().length >= 2), 20_000)

    // B's admin signs after the restart: the quorum is reached and the change applied at a cut.
    const token = login(b.auth, 'admin@hospital-b').token
    const signed = await call(b, token, 'POST', `${P}/${id}/signatures`)
    expect(signed.json).toMatchObject({ signers: ['hospital-a', 'hospital-b'], state: 'accepted' })
    await waitFor('every node holds the change for its cut', () =>
      nodes.every((n) => n.governance.live.pending !== undefined),
    )
    await a.checkpoints.runRound()
    await waitFor(
      'every node applied version 1',
      () => nodes.every((n) => n.governance.live.current.version === 1),
      30_000,
    )
    // Applied: pruned from every folder's pending.json.
    await waitFor('pending.json pruned everywhere', async () =>
      (await Promise.all(dirs.map(savedProposals))).every((list) => list.length === 0),
    )
    for (const n of nodes) expect(n.governance.view().proposals).toEqual([])
    // Reloading recorded and emailed nothing twice: one `proposed` record and email per node.
    for (const [i, n] of nodes.entries()) {
      await n.governance.flushed()
      const name = (n === a ? NAMES[0] : n === b ? NAMES[1] : NAMES[2])!
      const proposedRecords = (await membershipRecords(n, name)).filter((r) => r.op === 'proposed')
      expect(proposedRecords, `${name} (${i})`).toHaveLength(1)
    }
    expect(proposedMails()).toHaveLength(3)
  }, 120_000)
})
