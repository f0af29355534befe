import { cp, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../client/main.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { readNextKeys } from '../../node/identity/next-keys.ts'
import { createHost, type NetHost } from '../../node/net/host.ts'
import { LIMITS, SYNC_PROTOCOL } from '../../node/net/index.ts'
import { decodeFrame, encodeFrame } from '../../node/net/sync-frames.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * A node's own libp2p key rotated while it runs (real nodes on loopback, real libp2p, LevelDB
 * and the CLI run in process): `ehrlog keys rotate --kind libp2p` beside the running node,
 * `network propose rotate --key libp2p` and `network sign`, the change applied at a checkpoint
 * cut; the node reads keys-next.enc again, restarts its network on the new PeerId (no process
 * restart), installs the keys, and a restart starts on the new PeerId.
 */

async function cli(args: string[]): Promise<string> {
  let out = ''
  let err = ''
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t), env: {} })
  if (code !== 0) throw new Error(`ehrlog ${args.slice(0, 2).join(' ')} failed: ${err}`)
  return out
}

/** What a member answers a sync session opened by `host` (a bare libp2p host). */
async function syncAnswer(host: NetHost, member: EhrlogNode): Promise<unknown> {
  const address = member.net.addresses()[0]!
  await host.dial(multiaddr(address))
  const peer = peerIdFromString(address.split('/p2p/')[1]!)
  const stream = await host.dialProtocol(peer, SYNC_PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: LIMITS.maxSyncFrameBytes })
  const networkId = Buffer.from(member.membership.current.networkId, 'hex')
  await lp.write(encodeFrame({ type: 'state', networkId, sizes: new Map() }))
  const reply = decodeFrame((await lp.read()).subarray())
  await stream.close().catch(() => {})
  return reply
}

describe("a node's own libp2p key rotation (real nodes on loopback)", () => {
  const tempDir = useTempDirs()
  let nodes: EhrlogNode[] = []
  const hosts: NetHost[] = []
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()))
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('keys rotate --kind libp2p on a running node, proposed and signed: at the change it switches PeerId live, replicates both ways, installs the keys; a restart keeps the new PeerId', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root)
    const [aDir, , cDir] = dirs as [string, string, string]
    const old = await openNodeDir(cDir)
    const oldPeer = old.identity.peerId
    nodes = await startNodes(dirs)
    const [a, b, c] = nodes as [EhrlogNode, EhrlogNode, EhrlogNode]
    await c.ingest.submit([makeEvent(1)])
    await waitFor('replication', () => nodes.every((n) => n.store.size('hospital-c') === 1))

    // A bad kind is refused and writes nothing.
    await expect(cli(['keys', 'rotate', '--dir', cDir, '--kind', 'rsa'])).rejects.toThrow(
      /want ed25519, bls or libp2p/,
    )
    expect(await readNextKeys(cDir)).toBeUndefined()
    // keys rotate beside the running node: a new PeerId in keys-next.enc and identity-next.json,
    // the other keys kept.
    const shown = JSON.parse(
      await cli(['keys', 'rotate', '--dir', cDir, '--kind', 'libp2p', '--json']),
    ) as { kind: string; peerId: string }
    expect(shown.kind).toBe('libp2p')
    const newPeer = shown.peerId
    expect(newPeer).not.toBe(oldPeer)
    const nextIdentity = JSON.parse(await readFile(join(cDir, 'identity-next.json'), 'utf8'))
    expect(nextIdentity).toMatchObject({
      peerId: newPeer,
      ed25519PublicKey: old.identity.ed25519PublicKey,
      blsPublicKey: old.identity.blsPublicKey,
    })
    expect((await readNextKeys(cDir))!.peerId).toBe(newPeer)

    // c proposes (its old libp2p key signs its own rotation), a signs: a quorum of 2.
    const proposal = join(root, 'rotate-c.json')
    await cli([
      'network',
      'propose',
      'rotate',
      'hospital-c',
      '--key',
      'libp2p',
      '--identity',
      join(cDir, 'identity-next.json'),
      '--dir',
      cDir,
      '--out',
      proposal,
    ])
    expect(await cli(['network', 'sign', proposal, '--dir', aDir])).toContain('enough to apply')
    const signed = JSON.parse(await readFile(proposal, 'utf8'))
    for (const n of nodes) expect(n.membership.offer(signed)).toBe(true)
    const cut = await a.checkpoints.runRound()
    expect(cut.checkpoint.membership.version).toBe(1)
    await waitFor(
      'every node at version 1',
      () => nodes.every((n) => n.membership.current.version === 1),
      30_000,
    )
    // The same node object, its network restarted on the new PeerId.
    await waitFor(
      'c on the new PeerId',
      () => c.net.admitted && c.net.addresses().every((x) => x.endsWith(`/p2p/${newPeer}`)),
      30_000,
    )
    await waitFor(
      'a and b gossiping with c’s new PeerId',
      () =>
        [a, b].every((n) =>
          n.net.peers().some((p) => p.peerId === newPeer && p.name === 'hospital-c' && p.gossip),
        ),
      60_000,
    ).catch((err: Error) => {
      const seen = [a, b].map((n) => JSON.stringify(n.net.peers()))
      throw new Error(`${err.message}; c at ${c.membership.current.version}; peers ${seen}`)
    })
    expect([a, b].some((n) => n.net.peers().some((p) => p.peerId === oldPeer))).toBe(false)

    // Both ways after the switch: c's new event reaches a and b, a's reaches c.
    await c.ingest.submit([makeEvent(2)])
    const cSize = c.store.size('hospital-c')
    await waitFor(
      'c’s entry after the switch on a and b',
      () => [a, b].every((n) => n.store.size('hospital-c') === cSize),
      30_000,
    )
    await a.ingest.submit([makeEvent(3)])
    const aSize = a.store.size('hospital-a')
    await waitFor('a’s entry on c', () => c.store.size('hospital-a') === aSize, 30_000)

    // The old PeerId is no longer a member: a refuses it sync (a bare host with the old key).
    const oldHost = await createHost({
      membership: a.membership.current,
      privateKey: old.libp2pPrivateKey,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      maxClientConnections: 0,
    })
    hosts.push(oldHost)
    expect(await syncAnswer(oldHost, a)).toMatchObject({ type: 'error', code: 'FORBIDDEN' })

    // Every key of keys-next.enc is in force and used: installed as keys.enc and identity.json.
    await waitFor('the keys installed', async () => !(await readNextKeys(cDir)), 30_000)
    const installed = await openNodeDir(cDir)
    expect(installed.identity.peerId).toBe(newPeer)
    expect(installed.identity.ed25519PublicKey).toBe(old.identity.ed25519PublicKey)
    expect(installed.identity.blsPublicKey).toBe(old.identity.blsPublicKey)

    // A restart starts on the new PeerId and goes on replicating.
    await c.stop()
    const [c2] = await startNodes([cDir])
    nodes[2] = c2!
    expect(c2!.net.addresses().every((x) => x.endsWith(`/p2p/${newPeer}`))).toBe(true)
    await c2!.ingest.submit([makeEvent(4)])
    await waitFor(
      'the entry after restart on a',
      () => a.store.size('hospital-c') === c2!.store.size('hospital-c'),
      30_000,
    )
  }, 180_000)

  it('a start after the change, with the new key only in keys-next.enc, starts on the PeerId the version names', async () => {
    const root = await tempDir()
    const { dirs } = await initNetwork(root)
    const [aDir, , cDir] = dirs as [string, string, string]
    const oldPeer = (await openNodeDir(cDir)).identity.peerId
    // c is down while the change is made and applied by a and b.
    nodes = await startNodes(dirs.slice(0, 2))
    const [a, b] = nodes as [EhrlogNode, EhrlogNode]
    const { peerId: newPeer } = JSON.parse(
      await cli(['keys', 'rotate', '--dir', cDir, '--kind', 'libp2p', '--json']),
    ) as { peerId: string }
    const proposal = join(root, 'rotate-c.json')
    await cli([
      ...['network', 'propose', 'rotate', 'hospital-c', '--key', 'libp2p'],
      ...['--identity', join(cDir, 'identity-next.json'), '--dir', cDir, '--out', proposal],
    ])
    await cli(['network', 'sign', proposal, '--dir', aDir])
    const signed = JSON.parse(await readFile(proposal, 'utf8'))
    for (const n of nodes) n.membership.offer(signed)
    await a.checkpoints.runRound()
    await waitFor('a and b at version 1', () =>
      [a, b].every((n) => n.membership.current.version === 1),
    )
    // c's folder gets the applied change (as an admin copies a member's membership/ folder: the
    // members no longer answer c's old PeerId); keys.enc still holds the old libp2p key.
    await cp(join(aDir, 'membership'), join(cDir, 'membership'), { recursive: true })
    const [c] = await startNodes([cDir])
    nodes.push(c!)
    expect(c!.net.addresses().every((x) => x.endsWith(`/p2p/${newPeer}`))).toBe(true)
    expect(c!.net.admitted).toBe(true)
    await waitFor('the keys installed', async () => !(await readNextKeys(cDir)), 30_000)
    expect((await openNodeDir(cDir)).identity.peerId).toBe(newPeer)
    await c!.ingest.submit([makeEvent(1)])
    await waitFor(
      'c’s entry on a',
      () =>
        a.store.size('hospital-c') === c!.store.size('hospital-c') &&
        c!.store.size('hospital-c') > 0,
      30_000,
    )
    expect(a.net.peers().some((p) => p.peerId === oldPeer)).toBe(false)
  }, 180_000)
})
