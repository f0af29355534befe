import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MembershipHistory, type SignedProposal } from '../../node/core/trust/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { GovernanceService } from '../../node/membership/governance.ts'
import {
  decodeGovernanceMessage,
  encodeGovernanceMessage,
} from '../../node/membership/governance-messages.ts'
import {
  MAX_AHEAD_COPIES,
  MAX_VERSIONS_AHEAD,
  PENDING_FILE,
} from '../../node/membership/governance-pending.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import {
  makeMember,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from '../core/trust/membership-chain-fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * GovernanceService of a node that is behind (the network applied a version it does not hold
 * yet), and its pending pool across restarts: real LiveMembership, real folders (pending.json
 * written through node/fs/atomic-write.ts), services wired publish → handle directly (the real
 * topic and real node restarts are in pending-restart.test.ts).
 */

let members: TestMember[]
let network: unknown

beforeAll(async () => {
  members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  network = { members: members.map((m) => m.identity), vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
})

interface Member {
  service: GovernanceService
  live: LiveMembership
  dir: string
  sent: Uint8Array[]
}

describe('governance of a node that is behind, and its saved pool', () => {
  const tempDir = useTempDirs()
  const started: GovernanceService[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()))
  })

  /** A member's service on `live` in `dir`; what it publishes reaches `peers` at once. */
  async function serve(i: number, live: LiveMembership, dir: string, peers: Member[] = []) {
    const m = members[i]!
    const sent: Uint8Array[] = []
    const service = new GovernanceService({
      live,
      keys: {
        name: m.identity.name,
        signingKey: m.feedKey,
        blsSecretKey: m.bls,
        libp2pPrivateKey: m.libp2p,
      },
      dir,
      publish: async (data) => {
        sent.push(data)
        for (const p of peers) if (p.service !== service) await p.service.handle(data, 'x')
      },
      record: async () => {},
      notify: async () => {},
      logger: silentLogger(),
      republishMs: 0,
    })
    await service.start()
    started.push(service)
    return { service, live, dir, sent }
  }

  const fresh = () => new LiveMembership(MembershipHistory.fromChain(network, []))
  const saved = async (dir: string) =>
    JSON.parse(await readFile(join(dir, PENDING_FILE), 'utf8')) as {
      v: number
      proposals: SignedProposal[]
      ahead: SignedProposal[]
    }

  it('keeps a proposal on a version it does not hold, unforwarded, and takes it once caught up; replayed, too far ahead and other networks are still refused', async () => {
    const peers: Member[] = []
    for (const i of [0, 1]) peers.push(await serve(i, fresh(), await tempDir(), peers))
    const [a, b] = peers as [Member, Member]
    // A and B apply version 1 (quorum 3); C was away.
    const first = await a.service.propose('admin@hospital-a', { type: 'quorum', quorum: 3 })
    await b.service.sign('admin@hospital-b', first.id)
    const firstSigned = a.live.pending!
    for (const m of [a, b]) await m.live.applyPending()
    const second = await a.service.propose('admin@hospital-a', {
      type: 'addresses',
      name: 'hospital-a',
      addresses: ['/ip4/10.0.0.9/tcp/7400'],
    })
    expect(second.proposal.baseVersion).toBe(1)
    const message = a.sent.at(-1)!

    const cDir = await tempDir()
    const c = await serve(2, fresh(), cDir)
    expect(c.live.current.version).toBe(0)
    // Not bad input: kept, but neither taken nor forwarded (its signers cannot be checked yet).
    expect(await c.service.handle(message, 'hospital-a')).toBe('ignore')
    expect(c.service.view().proposals).toEqual([])
    await c.service.stop()
    expect((await saved(cDir)).ahead.map((s) => s.proposal.baseVersion)).toEqual([1])

    // Still refused with their codes: a replay (version 0 is applied on A), a proposal too far
    // ahead, another network's. Nothing kept.
    const replay = encodeGovernanceMessage(firstSigned)
    await expect(a.service.handle(replay, 'hospital-b')).resolves.toBe(false)
    const copy = decodeGovernanceMessage(message)
    const far = structuredClone(copy)
    far.proposal.baseVersion = MAX_VERSIONS_AHEAD + 1
    const other = structuredClone(copy)
    other.proposal.networkId = 'ab'.repeat(32)
    const c2 = await serve(2, fresh(), cDir)
    for (const bad of [far, other])
      expect(await c2.service.handle(encodeGovernanceMessage(bad), 'hospital-a')).toBe(false)

    // Restarted, C still holds the kept copy; once it applies version 1 it takes it, checked.
    c2.live.offer(firstSigned)
    await c2.live.applyPending()
    await c2.service.flushed()
    expect(c2.service.view().proposals.map((p) => [p.id, p.signers])).toEqual([
      [second.id, ['hospital-a']],
    ])
    await c2.service.stop()
    const file = await saved(cDir)
    expect(file.ahead).toEqual([])
    expect(file.proposals.map((s) => s.proposal.baseVersion)).toEqual([1])
  })

  it('a kept copy that does not verify once caught up is dropped; the kept copies are bounded', async () => {
    const peers: Member[] = []
    for (const i of [0, 1]) peers.push(await serve(i, fresh(), await tempDir(), peers))
    const [a, b] = peers as [Member, Member]
    const first = await a.service.propose('admin@hospital-a', { type: 'quorum', quorum: 3 })
    await b.service.sign('admin@hospital-b', first.id)
    const firstSigned = a.live.pending!
    for (const m of [a, b]) await m.live.applyPending()
    await a.service.propose('admin@hospital-a', {
      type: 'addresses',
      name: 'hospital-a',
      addresses: ['/ip4/10.0.0.9/tcp/7400'],
    })
    const good = decodeGovernanceMessage(a.sent.at(-1)!)
    const forged = structuredClone(good)
    const sig = forged.signatures[0]!.signature
    forged.signatures[0]!.signature = (sig[0] === '0' ? '1' : '0') + sig.slice(1)

    const c = await serve(2, fresh(), await tempDir())
    expect(await c.service.handle(encodeGovernanceMessage(forged), 'hospital-b')).toBe('ignore')
    // More distinct copies than the bound: the oldest (the forged one) is let go.
    const junk: SignedProposal[] = []
    for (let n = 0; n < MAX_AHEAD_COPIES; n++) {
      const copy = structuredClone(forged)
      copy.proposal.change = {
        type: 'addresses',
        name: 'hospital-a',
        addresses: [`/ip4/10.0.1.${n}/tcp/7400`],
      }
      junk.push(copy)
      expect(await c.service.handle(encodeGovernanceMessage(copy), 'hospital-b')).toBe('ignore')
    }
    await c.service.stop()
    const file = await saved(c.dir)
    expect(file.ahead).toEqual(junk)

    const c2 = await serve(2, fresh(), c.dir)
    expect(await c2.service.handle(encodeGovernanceMessage(forged), 'hospital-b')).toBe('ignore')
    c2.live.offer(firstSigned)
    await c2.live.applyPending()
    await c2.service.flushed()
    // The forged copy and the junk do not verify on version 1: none is pooled.
    expect(c2.service.view().proposals).toEqual([])
    // The good copy, arriving now, is taken at once.
    expect(await c2.service.handle(encodeGovernanceMessage(good), 'hospital-a')).toBe(true)
    expect(c2.service.view().proposals).toHaveLength(1)
  })

  it('reloads its pending pool at start, checked again: a changed signature is dropped, a file that is not JSON is an empty pool', async () => {
    const peers: Member[] = []
    for (const i of [0, 1, 2]) peers.push(await serve(i, fresh(), await tempDir(), peers))
    const [a, b] = peers as [Member, Member, Member]
    const proposed = await a.service.propose('admin@hospital-a', { type: 'quorum', quorum: 3 })
    await b.service.stop()
    expect((await saved(b.dir)).proposals.map((s) => s.signatures.length)).toEqual([1])

    const b2 = await serve(1, fresh(), b.dir)
    expect(b2.service.view().proposals.map((p) => [p.id, p.signers])).toEqual([
      [proposed.id, ['hospital-a']],
    ])
    await b2.service.stop()

    // A changed signature in the file: refused as a gossiped copy would be; the file is rewritten.
    const file = await saved(b.dir)
    const sig = file.proposals[0]!.signatures[0]!.signature
    file.proposals[0]!.signatures[0]!.signature = (sig[0] === '0' ? '1' : '0') + sig.slice(1)
    await writeFile(join(b.dir, PENDING_FILE), JSON.stringify(file))
    const b3 = await serve(1, fresh(), b.dir)
    expect(b3.service.view().proposals).toEqual([])
    await b3.service.stop()
    expect((await saved(b.dir)).proposals).toEqual([])

    await writeFile(join(b.dir, PENDING_FILE), '{"v":1,"proposals":[')
    const b4 = await serve(1, fresh(), b.dir)
    expect(b4.service.view().proposals).toEqual([])
  })
})
