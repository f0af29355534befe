import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { type AddressInfo, createServer, type Server } from 'node:net'
import { Writable } from 'node:stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../../node/core/bls.ts'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { Membership } from '../../node/core/trust/index.ts'
import type { PublicIdentity } from '../../node/identity/index.ts'
import { NetService, type NetServiceOptions } from '../../node/net/index.ts'
import { TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'
import { FeedWriter } from './feed-writer.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

export interface TestNode {
  name: string
  libp2pKey: PrivateKey
  peerId: string
  feedKey: KeyObject
  writer: FeedWriter
  store: MemoryReplicaStore
  port: number
  logs: LogLine[]
  net: NetService | undefined
}

export interface TestNetwork {
  membership: Membership
  /** Origin -> raw Ed25519 tree-head key, for building stores. */
  keys: Map<string, Uint8Array>
  nodes: TestNode[]
  byName(name: string): TestNode
  /** Starts (or restarts, with its old store) one node's NetService on its port. */
  start(node: TestNode, opts?: Partial<NetServiceOptions>): Promise<NetService>
  /** Stops every running node. */
  stop(): Promise<void>
}

/** Free loopback ports, picked by the OS (port 0) and released for the nodes to take. */
export async function reservePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer()
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

/** A pino logger whose lines land in `lines`, parsed. */
export function captureLogger(lines: LogLine[], level = 'info') {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const text of String(chunk).split('\n'))
        if (text) lines.push(JSON.parse(text) as LogLine)
      done()
    },
  })
  return pino({ level }, sink)
}

/** A member's identity.json with fresh keys: libp2p, feed (Ed25519) and BLS with its PoP. */
export async function makeIdentity(
  name: string,
  addresses: string[] = [],
): Promise<{
  identity: PublicIdentity
  libp2pKey: PrivateKey
  feedKey: KeyObject
  blsSecretKey: Uint8Array
}> {
  const libp2pKey = await generateKeyPair('Ed25519')
  const feedKey = generateKeyPairSync('ed25519').privateKey
  const bls = generateBlsSecretKey()
  const identity = {
    name,
    peerId: peerIdFromPrivateKey(libp2pKey).toString(),
    ed25519PublicKey: toHex(ed25519RawPublicKey(feedKey)),
    blsPublicKey: toHex(blsPublicKey(bls)),
    blsProofOfPossession: toHex(blsProofOfPossession(bls)),
    addresses,
  }
  return { identity, libp2pKey, feedKey, blsSecretKey: bls }
}

/** Keys, membership and stores for `names`; nothing is started. */
export async function makeNetwork(names: string[]): Promise<TestNetwork> {
  const ports = await reservePorts(names.length)
  const nodes: TestNode[] = []
  const identities: PublicIdentity[] = []
  for (const [i, name] of names.entries()) {
    const port = ports[i] as number
    const { identity, libp2pKey, feedKey } = await makeIdentity(name, [
      `/ip4/127.0.0.1/tcp/${port}`,
    ])
    identities.push(identity)
    nodes.push({
      name,
      libp2pKey,
      peerId: identity.peerId,
      feedKey,
      writer: new FeedWriter(name, feedKey),
      store: undefined as never,
      port,
      logs: [],
      net: undefined,
    })
  }
  const membership = Membership.fromJson({
    members: identities,
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  })
  const keys = new Map(nodes.map((n) => [n.name, ed25519RawPublicKey(n.feedKey)]))
  for (const n of nodes) n.store = new MemoryReplicaStore(keys)

  const network: TestNetwork = {
    membership,
    keys,
    nodes,
    byName(name) {
      const node = nodes.find((n) => n.name === name)
      if (!node) throw new Error(`no node ${name}`)
      return node
    },
    async start(node, opts = {}) {
      const net = new NetService({
        membership,
        self: node.name,
        privateKey: node.libp2pKey,
        listen: [`/ip4/127.0.0.1/tcp/${node.port}`],
        store: node.store,
        logger: captureLogger(node.logs),
        syncIntervalMs: 2000,
        redial: { minBackoffMs: 200, maxBackoffMs: 1000, checkIntervalMs: 200 },
        ...opts,
      })
      node.net = net
      await net.start()
      return net
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.net?.stop()))
    },
  }
  return network
}

/** Polls `check` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Resolves when every running node gossips with every other running node. */
export async function waitForMesh(network: TestNetwork): Promise<void> {
  const running = network.nodes.filter((n) => n.net)
  await waitFor('a full gossip mesh', () =>
    running.every(
      (n) =>
        (n.net as NetService).peers().filter((p) => p.name && p.gossip).length ===
        running.length - 1,
    ),
  )
}

/** Appends `count` entries to `node`'s own feed and gossips the batch. */
export async function appendAndPublish(node: TestNode, count: number): Promise<void> {
  const batch = node.writer.next(count)
  const result = await node.store.acceptBatch(batch, 'self')
  if (result.status !== 'stored') throw new Error(`local append gave ${result.status}`)
  node.net?.publish(batch)
}
