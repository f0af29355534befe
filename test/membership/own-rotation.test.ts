import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../client/main.ts'
import { blsSign } from '../../node/core/bls.ts'
import { verifyCosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { toHex } from '../../node/core/hex.ts'
import { signEd25519 } from '../../node/core/tree-head.ts'
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

  it('keys rotate writes the next keys; the node switches to them at the cut, and the members take its feed on', async () => {
    const { dirs } = await initNetwork(await tempDir())
    const cDir = dirs[2]!
    const old = await openNodeDir(cDir)
    const { ed25519PublicKey: edKey } = await rotateCli(cDir, 'ed25519')
    const next = await rotateCli(cDir, 'bls') // on top: keys-next.enc holds both new keys
    expect((await readNextKeys(cDir))!.ed25519PublicKey).toBe(edKey)
    const retired: RetiredKeyIncident[] = []
    nodes = await startNodes(dirs, { onRetiredKey: (i) => retired.push(i) })
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await c.ingest.submit([makeEvent(1), makeEvent(2)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 2))
    await a.checkpoints.runRound()

    // Ed25519: the quorum and the old key sign; the change is applied at a's cut.
    // keys.enc is untouched: the node signs with it until the cut.
    expect((await openNodeDir(cDir)).identity.ed25519PublicKey).toBe(old.identity.ed25519PublicKey)
    const rotateEd = await rotation(
      a,
      { type: 'rotate-ed25519', name: 'hospital-c', ed25519PublicKey: edKey!, oldKey: 'held' },
      dirs,
      (m) => signEd25519(old.signingKey, m),
    )
    for (const n of nodes) n.membership.offer(rotateEd)
    const cut = await a.checkpoints.runRound()
    expect(cut.checkpoint.membership.version).toBe(1)
    await waitFor(
      'c to sign with its new key',
      () => c.store.appendHoldOf('hospital-c') === undefined,
    )
    await c.ingest.submit([makeEvent(3)])
    await waitFor('the new-key entry on a and b', () =>
      [a, b].every((n) => n.store.size('hospital-c') === 3),
    )
    expect(retired).toEqual([])

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
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 4))
    const v2 = await c.checkpoints.runRound()
    expect(v2.checkpoint.membership.version).toBe(2)
    const keys = checkpointKeysOf(a.membership.history.keysFor(v2.checkpoint.membership))
    expect(verifyCosignedCheckpoint(v2, keys)).toContain(2) // c signed, with its new key
    // Every head of c verifies: up to the cut under the old key, after it under the new one.
    expect((await a.store.verify()).ok).toBe(true)

    // A restart picks the rotated keys from keys-next.enc and goes on signing with them.
    await c.stop()
    const [c2] = await startNodes([cDir], { onRetiredKey: (i) => retired.push(i) })
    nodes[2] = c2!
    await c2!.ingest.submit([makeEvent(5)])
    await waitFor('the entry after restart on a', () => a.store.size('hospital-c') === 5)
    expect(retired).toEqual([])
  })
})
