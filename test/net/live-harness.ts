import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { MembershipHistory, type MembershipVersion } from '../../node/core/trust/index.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import { NetService, type NetServiceOptions } from '../../node/net/index.ts'
import type { TestMember } from '../core/trust/membership-chain-fixtures.ts'
import { TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'
import { FeedWriter } from './feed-writer.ts'
import { captureLogger, type LogLine, makeIdentity, reservePorts } from './harness.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

/** One node of a network whose membership changes: its keys, store, log and live membership. */
export interface LiveNode {
  name: string
  port: number
  member: TestMember
  writer: FeedWriter
  store: MemoryReplicaStore
  logs: LogLine[]
  live: LiveMembership
  net: NetService | undefined
}

export interface LiveNetwork {
  /** The genesis network.json's value. */
  genesis: { members: unknown[]; vrfPublicKey: string }
  /** Every origin's Ed25519 key, shared by the stores (a joining node's is added when made). */
  keys: Map<string, Uint8Array>
  /** Signing keys by member name, for signedChange. */
  signers: Map<string, TestMember>
  nodes: LiveNode[]
  byName(name: string): LiveNode
  /** Starts `node`'s NetService with its live membership on its port. */
  start(node: LiveNode, opts?: Partial<NetServiceOptions>): Promise<NetService>
  stop(): Promise<void>
  /** The newest version `node` holds. */
  versionOf(node: LiveNode): MembershipVersion
}

/**
 * `genesisNames` form network.json; `joiningNames` get keys and a port but are in no version
 * yet (hospitals that will join). Each node holds its own in-memory LiveMembership from genesis.
 */
export async function makeLiveNetwork(
  genesisNames: string[],
  joiningNames: string[] = [],
  opts: { genesisAddresses?: boolean } = {},
): Promise<LiveNetwork> {
  const names = [...genesisNames, ...joiningNames]
  const ports = await reservePorts(names.length)
  const keys = new Map<string, Uint8Array>()
  const signers = new Map<string, TestMember>()
  const made = await Promise.all(
    names.map(async (name, i) => {
      const port = ports[i] as number
      const id = await makeIdentity(name, [`/ip4/127.0.0.1/tcp/${port}`])
      const member: TestMember = {
        identity: id.identity,
        feedKey: id.feedKey,
        bls: id.blsSecretKey,
        libp2p: id.libp2pKey,
      }
      keys.set(name, ed25519RawPublicKey(id.feedKey))
      signers.set(name, member)
      return { name, port, member }
    }),
  )
  const genesis = {
    // Without addresses (genesisAddresses: false) nobody dials the genesis members: a joining
    // node reaches them only through its `join` peers.
    members: made
      .slice(0, genesisNames.length)
      .map((m) =>
        opts.genesisAddresses === false
          ? { ...m.member.identity, addresses: [] }
          : m.member.identity,
      ),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }
  const nodes: LiveNode[] = made.map(({ name, port, member }) => ({
    name,
    port,
    member,
    writer: new FeedWriter(name, member.feedKey),
    store: new MemoryReplicaStore(keys),
    logs: [],
    live: new LiveMembership(MembershipHistory.fromChain(genesis, [])),
    net: undefined,
  }))
  const network: LiveNetwork = {
    genesis,
    keys,
    signers,
    nodes,
    byName(name) {
      const node = nodes.find((n) => n.name === name)
      if (!node) throw new Error(`no node ${name}`)
      return node
    },
    async start(node, opts = {}) {
      const net = new NetService({
        membership: node.live,
        self: node.name,
        privateKey: node.member.libp2p,
        listen: [`/ip4/127.0.0.1/tcp/${node.port}`],
        store: node.store,
        logger: captureLogger(node.logs),
        syncIntervalMs: 1000,
        syncTimeoutMs: 5000,
        redial: { minBackoffMs: 100, maxBackoffMs: 500, checkIntervalMs: 100 },
        ...opts,
      })
      node.net = net
      await net.start()
      return net
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.net?.stop()))
    },
    versionOf(node) {
      return node.live.history.versions.at(-1) as MembershipVersion
    },
  }
  return network
}

/** Appends `count` entries to `node`'s own feed and gossips the batch. */
export async function appendLive(node: LiveNode, count: number): Promise<void> {
  const batch = node.writer.next(count)
  const result = await node.store.acceptBatch(batch, 'self')
  if (result.status !== 'stored') throw new Error(`local append gave ${result.status}`)
  node.net?.publish(batch)
}
