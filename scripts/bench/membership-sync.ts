// Membership sync benchmark (issue 16): a node at genesis fetches a chain of signed membership
// changes from a member over /ehrlog/membership/1.0.0 (real libp2p on loopback), verifies
// every change against the version before it and applies them (LiveMembership.catchUp, in
// memory). MEMBERSHIP_CHANGES (default 200) address changes of 7 members, each signed by 4.
import '../../node/shim.ts'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../../node/core/bls.ts'
import { toHex } from '../../node/core/hex.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import {
  addSignature,
  applyProposal,
  genesisVersion,
  MembershipHistory,
  type MembershipVersion,
  proposeChange,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import { NetService } from '../../node/net/index.ts'
import type { FeedBatch, ReplicaStore } from '../../node/net/replica-store.ts'
import { freePort } from './bench-nodes.ts'
import type { Figure } from './report.ts'

const VRF_PUBLIC_KEY = '00'.repeat(31) + '01'
const empty: ReplicaStore = {
  sizes: async () => new Map(),
  readBatches: async (): Promise<FeedBatch[]> => [],
  acceptBatch: async () => ({ status: 'duplicate', treeSize: 0 }),
}

export async function benchMembershipSync(
  changes = Number(process.env.MEMBERSHIP_CHANGES ?? 200),
): Promise<Figure[]> {
  const names = Array.from({ length: 7 }, (_, i) => `hospital-${String.fromCharCode(97 + i)}`)
  const keys = new Map<string, KeyObject>()
  const ports = [await freePort(), await freePort()]
  const address = (i: number) => `/ip4/127.0.0.1/tcp/${ports[i % 2]}`
  const members = await Promise.all(
    names.map(async (name, i) => {
      const libp2p = await generateKeyPair('Ed25519')
      const feedKey = generateKeyPairSync('ed25519').privateKey
      keys.set(name, feedKey)
      const bls = generateBlsSecretKey()
      return {
        libp2p,
        identity: {
          name,
          peerId: peerIdFromPrivateKey(libp2p).toString(),
          ed25519PublicKey: toHex(ed25519RawPublicKey(feedKey)),
          blsPublicKey: toHex(blsPublicKey(bls)),
          blsProofOfPossession: toHex(blsProofOfPossession(bls)),
          addresses: [address(i)],
        },
      }
    }),
  )
  const genesis = { members: members.map((m) => m.identity), vrfPublicKey: VRF_PUBLIC_KEY }
  let version: MembershipVersion = genesisVersion(genesis).version
  const chain: SignedProposal[] = []
  for (let n = 0; n < changes; n++) {
    const name = names[n % names.length]!
    const change = {
      type: 'addresses' as const,
      name,
      addresses: [address(n % 7), `/dns4/h${n}.example/tcp/7400`],
    }
    let signed: SignedProposal = {
      proposal: proposeChange(version, names[0]!, change),
      signatures: [],
    }
    for (const signer of names.slice(0, 4)) signed = addSignature(signed, signer, keys.get(signer)!)
    version = applyProposal(version, signed)
    chain.push(signed)
  }
  const logger = pino({ level: 'silent' })
  const serving = new LiveMembership(MembershipHistory.fromChain(genesis, chain))
  const asking = new LiveMembership(MembershipHistory.fromChain(genesis, []))
  const nets = [serving, asking].map(
    (live, i) =>
      new NetService({
        membership: live,
        self: names[i]!,
        privateKey: members[i]!.libp2p,
        listen: [address(i)],
        store: empty,
        logger,
      }),
  )
  // The asker starts first: the one that starts second dials and triggers the timed catch-up.
  await nets[0]!.start()
  const t0 = performance.now()
  await nets[1]!.start()
  while (asking.current.version < changes) await new Promise((r) => setTimeout(r, 5))
  const ms = performance.now() - t0
  await Promise.all(nets.map((n) => n.stop()))
  const bytes = Buffer.byteLength(JSON.stringify(chain))
  return [
    {
      name: `catch-up of ${changes} changes (connect, fetch, verify, apply)`,
      value: Math.round(ms),
      unit: 'ms',
    },
    { name: 'per change', value: Math.round((ms / changes) * 100) / 100, unit: 'ms' },
    { name: 'chain size', value: Math.round(bytes / 1024), unit: 'KiB' },
  ]
}
