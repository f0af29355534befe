import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../client/main.ts'
import { blsSign } from '../../node/core/bls.ts'
import { verifyCosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { isTreeHeadSignatureValid, signEd25519 } from '../../node/core/tree-head.ts'
import {
  addSignature,
  type MembershipChange,
  proposalMessage,
  proposeChange,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import { checkpointKeysOf } from '../../node/core/trust/network-keys.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { readNextKeys } from '../../node/identity/next-keys.ts'
import type { RetiredKeyIncident } from '../../node/integrity/index.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

async function rotateCli(dir: string, kind: string): Promise<Record<string, string>> {
  let out = ''
  let err = ''
  const code = await main(['keys', 'rotate', '--dir', dir, '--kind', kind, '--json'], {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: {},
  })
  if (code !== 0) throw new Error(`keys rotate failed: ${err}`)
  return JSON.parse(out)
}

/** A rotation of `name`'s key signed by a quorum (a, b) and by the old key it replaces. */
async function rotation(
  node: EhrlogNode,
  change: MembershipChange,
  dirs: string[],
  oldKeySign: (message: Uint8Array) => Uint8Array,
): Promise<SignedProposal> {
  let signed: SignedProposal = {
    proposal: proposeChange(node.membership.history.versions.at(-1)!, 'hospital-a', change),
    signatures: [],
  }
  for (const dir of dirs.slice(0, 2)) {
    const id = await openNodeDir(dir)
    signed = addSignature(signed, id.config.name, id.signingKey)
  }
  return { ...signed, oldKeySignature: toHex(oldKeySign(proposalMessage(signed.proposal))) }
}

describe("a node's own key rotation (real nodes on loopback)", () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('keys rotate, run while the node runs, writes the next keys; at the change the node appends its marker with the old key and signs on with the new one, no restart', async () => {
    const { dirs } = await initNetwork(await tempDir())
    const cDir = dirs[2]!
    const old = await openNodeDir(cDir)
    const retired: RetiredKeyIncident[] = []
    nodes = await startNodes(dirs, { onRetiredKey: (i) => retired.push(i) })
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await c.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 2))
    await a.checkpoints.runRound()
    // The running node's folder takes the new keys (no lock: keys rotate touches nothing the
    // node writes); keys-next.enc holds both.
    const { ed25519PublicKey: edKey } = await rotateCli(cDir, 'ed25519')
    const next = await rotateCli(cDir, 'bls')
    expect((await readNextKeys(cDir))!.ed25519PublicKey).toBe(edKey)

    // Ed25519: the quorum and the old key sign; the change is applied at a's cut.
    const rotateEd = await rotation(
      a,
      { type: 'rotate-ed25519', name: 'hospital-c', ed25519PublicKey: edKey!, oldKey: 'held' },
      dirs,
      (m) => signEd25519(old.signingKey, m),
    )
    for (const n of nodes) n.membership.offer(rotateEd)
    const cut = await a.checkpoints.runRound()
    expect(cut.checkpoint.membership.version).toBe(1)
    // c applies it, reads keys-next.enc again and appends the marker (after its own record of
    // the change), the last entry its old key signs.
    let markerSeq = 0
    await waitFor(
      'the marker in c’s feed',
      async () => {
        for await (const { entry } of c.store.entries('hospital-c', 3)) {
          const body = entry.body as { op?: string; version?: number; ed25519PublicKey?: string }
          if (entry.kind === 'membership' && body.op === 'key-rotated') {
            expect(body).toMatchObject({ version: 1, ed25519PublicKey: edKey })
            markerSeq = entry.seq
          }
        }
        return markerSeq > 0
      },
      30_000,
    )
    expect(c.store.appendHoldOf('hospital-c')).toBeUndefined() // never held
    await c.ingest.submit([makeEvent(3)])
    const size = c.store.size('hospital-c')
    expect(size).toBeGreaterThan(markerSeq)
    await waitFor('the new-key entries on a and b', () =>
      [a, b].every((n) => n.store.size('hospital-c') === size),
    )
    const head = a.store.latestHead('hospital-c')!
    expect(isTreeHeadSignatureValid(head, fromHex(edKey!, 32)!)).toBe(true)
    expect(retired).toEqual([])
    // keys.enc is not replaced while keys-next.enc holds a BLS key no version lists yet.
    expect((await openNodeDir(cDir)).identity.ed25519PublicKey).toBe(old.identity.ed25519PublicKey)

    // BLS: c proposes the next round itself, signing under version 2 with its new BLS key.
    const rotateBls = await rotation(
      a,
      {
        type: 'rotate-bls',
        name: 'hospital-c',
        blsPublicKey: next.blsPublicKey!,
        blsProofOfPossession: next.blsProofOfPossession!,
        oldKey: 'held',
      },
      dirs,
      (m) => blsSign(old.blsSecretKey, m),
    )
    for (const n of nodes) n.membership.offer(rotateBls)
    await c.ingest.submit([makeEvent(4)])
    await waitFor('replication', () =>
      nodes.every((n) => n.store.size('hospital-c') === c.store.size('hospital-c')),
    )
    await a.checkpoints.runRound() // applies version 2 everywhere
    await waitFor('c at version 2', () => c.membership.current.version === 2)
    const v2 = await c.checkpoints.runRound()
    expect(v2.checkpoint.membership.version).toBe(2)
    const keys = checkpointKeysOf(a.membership.history.keysFor(v2.checkpoint.membership))
    expect(verifyCosignedCheckpoint(v2, keys)).toContain(2) // c signed, with its new BLS key
    // Every head of c verifies: up to the marker under the old key, after it under the new one.
    expect((await a.store.verify()).ok).toBe(true)
    // Every key of keys-next.enc is in force: installed as keys.enc and identity.json.
    await waitFor('the keys installed', async () => !(await readNextKeys(cDir)))
    const installed = await openNodeDir(cDir)
    expect(installed.identity.ed25519PublicKey).toBe(edKey)
    expect(installed.identity.blsPublicKey).toBe(next.blsPublicKey)

    // A restart reads the installed keys and goes on signing with them.
    await c.stop()
    const [c2] = await startNodes([cDir], { onRetiredKey: (i) => retired.push(i) })
    nodes[2] = c2!
    await c2!.ingest.submit([makeEvent(5)])
    await waitFor(
      'the entry after restart on a',
      () => a.store.size('hospital-c') === c2!.store.size('hospital-c'),
    )
    expect(retired).toEqual([])
  })
})
