import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeGovernanceMessage } from '../../node/membership/governance-messages.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { login } from '../query/sessions.ts'
import { freshIdentity, governedNetwork, membershipRecords, NAMES } from './governance-harness.ts'

/*
 * `ehrlog network propose|sign|show --node URL` against real in-process nodes (libp2p on
 * 127.0.0.1, LevelDB, HTTP), emails to a real SMTP server; the change applies at the cut
 * (LiveMembership.applyPending, which the checkpoint service calls there).
 */

describe('ehrlog network propose|sign|show --node', () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  let smtp: TestSmtpServer | undefined
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    await smtp?.close()
  })

  it('an admin rotates a lost key through the CLI: alerted, signed by another admin, applied at the cut, recorded and emailed; a replay is dropped', async () => {
    smtp = await startSmtpServer()
    const root = await tempDir()
    const net = await governedNetwork(root, smtp.port)
    nodes = net.nodes
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    /** A CLI config folder holding the saved session of `node`'s admin. */
    const sessionOf = async (i: number) => {
      const dir = join(root, `cli-${i}`)
      await mkdir(dir, { mode: 0o700 })
      const { token, claims } = login(nodes[i]!.auth, `admin@${NAMES[i]}`)
      const session = {
        v: 1,
        node: nodes[i]!.httpUrl,
        username: `admin@${NAMES[i]}`,
        token,
        role: 'admin',
        expiresMs: claims.exp,
      }
      await writeFile(join(dir, 'session.json'), JSON.stringify(session), { mode: 0o600 })
      return { EHRLOG_CONFIG_DIR: dir }
    }
    const [envA, envB] = [await sessionOf(0), await sessionOf(1)]

    // Modes: a running node or files, never both; no session, no proposal.
    const both = await runCli(
      ['network', 'propose', 'quorum', '3', '--node', a.httpUrl, '--dir', net.dirs[0]!],
      envA,
    )
    expect(both.err).toMatch(/ARGUMENT_INVALID: give --node URL .* not both/)
    const anonymous = await runCli(['network', 'propose', 'quorum', '3', '--node', a.httpUrl], {
      EHRLOG_CONFIG_DIR: join(root, 'nobody'),
    })
    expect(anonymous.err).toMatch(/UNAUTHORIZED/)

    // hospital-c's Ed25519 key is lost: its new identity holds the new key.
    const next = join(root, 'c-new-identity.json')
    await writeFile(next, JSON.stringify(await freshIdentity('hospital-c')))
    const proposed = await runCli(
      [
        'network',
        'propose',
        'rotate',
        'hospital-c',
        '--key',
        'ed25519',
        '--identity',
        next,
        '--old-key-lost',
        '--node',
        a.httpUrl,
      ],
      envA,
    )
    expect(proposed.err).toBe('')
    const id = /proposed ([0-9a-f]{64}):/.exec(proposed.out)?.[1] as string
    expect(proposed.out).toMatch(/rotate hospital-c's ed25519 key \(old key lost\) on version 0/)
    await waitFor('B holds it', () => b.governance.view().proposals.some((p) => p.id === id))

    const shown = await runCli(['network', 'show', '--node', b.httpUrl, '--json'], envB)
    expect(shown.err).toBe('')
    const view = JSON.parse(shown.out)
    expect(view.current).toMatchObject({ number: 0, quorum: 2 })
    expect(view.proposals).toEqual([
      expect.objectContaining({
        id,
        signers: ['hospital-a'],
        missing: ['hospital-b', 'hospital-c'],
        state: 'pending',
      }),
    ])

    const signed = await runCli(['network', 'sign', id, '--node', b.httpUrl], envB)
    expect(signed.err).toBe('')
    expect(signed.out).toMatch(/signed by hospital-a, hospital-b \(2 of 2\); a quorum signed/)
    await waitFor('every node holds the rotation for its cut', () =>
      nodes.every((n) => n.governance.live.pending !== undefined),
    )
    const text = await runCli(['network', 'show', '--node', c.httpUrl], envB)
    expect(text.out).toMatch(/accepted: rotate hospital-c's ed25519 key .* makes version 1/)

    // The cut (what the checkpoint service does before it proposes): each node applies it.
    for (const n of nodes) await n.governance.live.applyPending()
    expect(nodes.map((n) => n.governance.live.current.version)).toEqual([1, 1, 1])
    const after = await runCli(['network', 'show', '--node', a.httpUrl], envA)
    expect(after.out).toMatch(
      /version 1 {2}[0-9a-f]{64} {2}rotate-ed25519; signed by hospital-a, hospital-b/,
    )
    // The same change again: its base is gone, so it is dropped (CHANGE_REPLAYED), not applied.
    const replay = nodes[0]!.governance.live.history.applied[0]!
    expect(await b.governance.handle(encodeGovernanceMessage(replay), 'hospital-a')).toBe(false)

    // A signature by the rotated-out key (the node runtime's head check reports it).
    await a.governance.reportRotatedKeyUse({
      member: 'hospital-c',
      key: 'ed25519',
      version: 1,
      what: 'a tree head of hospital-c at size 3',
      evidence: { head: 'signed with the old key' },
    })
    for (const node of nodes) await node.governance.flushed()
    const records = await membershipRecords(a, 'hospital-a')
    expect(records.map((r) => (r.op === 'alert' ? r.alert : r.op))).toEqual([
      'proposed',
      'lost-key-rotation',
      'signed',
      'signed',
      'applied',
      'rotated-key-signature',
    ])
    for (const [i, node] of nodes.entries()) {
      const ops = (await membershipRecords(node, NAMES[i]!)).map((r) => r.op)
      // hospital-c's Ed25519 key was rotated away (lost) and its folder has no new key: its own
      // feed is held from the cut (own-rotation.ts), so it records nothing more.
      if (NAMES[i] === 'hospital-c') expect(ops).not.toContain('applied')
      else expect(ops).toContain('applied')
    }
    await waitFor('every admin got the lost-key alert and the applied change', () => {
      const got = smtp!.received.map((m) => ({
        to: m.rcptTo[0],
        kind: parseMail(m.raw).headers.get('x-ehrlog-membership'),
      }))
      return NAMES.every(
        (name) =>
          got.some((g) => g.to === `admins@${name}.example` && g.kind === 'lost-key-rotation') &&
          got.some((g) => g.to === `admins@${name}.example` && g.kind === 'applied'),
      )
    })
    const rotated = smtp.received
      .map((m) => parseMail(m.raw))
      .find((m) => m.headers.get('x-ehrlog-membership') === 'rotated-key-signature')
    expect(rotated?.subject).toMatch(
      /\[Membership Alert: Rotated-Out Key Used\] hospital-c's ed25519 key, replaced or removed at membership version 1/,
    )
  }, 120_000)
})
