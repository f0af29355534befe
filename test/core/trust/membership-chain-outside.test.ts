import { createHash, createPublicKey, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import { applyProposal, genesisVersion, verifyChain } from '../../../node/core/trust/index.ts'
import { readFormatExamples } from '../format-doc.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from './membership-chain-fixtures.ts'

/*
 * A follower of membership chains written from docs/format.md ("Network id", "Membership
 * changes") alone, as an outsider would: only node:crypto, nothing from ehrlog. It handles the
 * changes that need no BLS (add is taken on trust of its proof here; remove, addresses, quorum,
 * a lost Ed25519 rotation) and must reach the same version hashes and members as the code.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** RFC 8785 for strings, safe integers, arrays and objects (keys by UTF-16 code units). */
function jcs(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs(value[k]!)}`)
      .join(',')}}`
  return JSON.stringify(value)
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest()
const u64be = (n: number) => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}
const ed25519Verify = (keyHex: string, message: Buffer, sigHex: string) =>
  verify(
    null,
    message,
    createPublicKey({
      key: Buffer.concat([
        Buffer.from('302a300506032b6570032100', 'hex'),
        Buffer.from(keyHex, 'hex'),
      ]),
      format: 'der',
      type: 'spki',
    }),
    Buffer.from(sigHex, 'hex'),
  )

interface OutsideMember {
  name: string
  ed25519PublicKey: string
  addresses: string[]
  [k: string]: Json
}

/** Follows `changes` from `network`; returns each version's hash, the members and quorum. */
function follow(
  network: { members: OutsideMember[]; vrfPublicKey: string },
  changes: Array<{ [k: string]: Json }>,
) {
  const networkId = sha256(Buffer.from(jcs(network as unknown as Json)))
  let hash = networkId
  let members = network.members.map((m) => ({ ...m }))
  let quorum: number | undefined
  const hashes = [hash.toString('hex')]
  changes.forEach((signed, number) => {
    const p = signed.proposal as { [k: string]: Json }
    const change = p.change as { [k: string]: Json }
    if (p.networkId !== networkId.toString('hex')) throw new Error('another network')
    if (p.baseVersion !== number || p.baseHash !== hash.toString('hex')) throw new Error('not next')
    const message = Buffer.concat([
      Buffer.from('ehrlog/membership-change/v1'),
      Buffer.from([0]),
      networkId,
      u64be(number),
      hash,
      Buffer.from(jcs({ change, proposer: p.proposer! })),
    ])
    const signers = (signed.signatures as Array<{ signer: string; signature: string }>).map((s) => {
      const m = members.find((x) => x.name === s.signer)
      if (!m || !ed25519Verify(m.ed25519PublicKey, message, s.signature))
        throw new Error('bad signer')
      return s.signer
    })
    if (!signers.includes(p.proposer as string)) throw new Error('proposer did not sign')
    if (signers.length < (quorum ?? Math.floor(members.length / 2) + 1)) throw new Error('too few')
    const at = members.findIndex((m) => m.name === change.name)
    switch (change.type) {
      case 'add':
        members.push({ ...(change.member as OutsideMember) })
        break
      case 'remove':
        members = members.filter((m) => m.name !== change.name)
        break
      case 'addresses':
        members[at] = { ...members[at]!, addresses: change.addresses as string[] }
        break
      case 'rotate-ed25519':
        members[at] = { ...members[at]!, ed25519PublicKey: change.ed25519PublicKey as string }
        break
      case 'quorum':
        quorum = change.quorum as number
        break
      default:
        throw new Error(`not handled here: ${String(change.type)}`)
    }
    hash = sha256(
      Buffer.concat([Buffer.from('ehrlog/membership-version/v1'), Buffer.from([0]), message]),
    )
    hashes.push(hash.toString('hex'))
  })
  return { hashes, members, quorum }
}

describe('a membership chain follower written from docs/format.md alone', () => {
  it('follows the worked example to the hashes the document shows', () => {
    const examples = readFormatExamples()
    const line = (name: string) => JSON.parse(examples.get(name)!.lines[0]!)
    const network = line('network')
    const outside = follow(network, [line('membership-change-1'), line('membership-change-2')])
    const inside = verifyChain(network, [line('membership-change-1'), line('membership-change-2')])
    expect(outside.hashes).toEqual(inside.versions.map((v) => v.hash))
    expect(outside.members.map((m) => m.name)).toEqual(['hospital-a', 'hospital-b'])
    expect(outside.quorum).toBe(2)
  })

  it('follows a chain the code made (add, addresses, a lost Ed25519 rotation, quorum, remove) to the same versions', async () => {
    const made = await Promise.all(
      ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
        makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
      ),
    )
    const [a, b, c, d] = made as [TestMember, TestMember, TestMember, TestMember]
    const keys = new Map(made.map((m) => [m.identity.name, m]))
    const network = {
      members: [a, b, c].map((m) => m.identity),
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    }
    let v = genesisVersion(network).version
    const changes = []
    const fresh = await makeMember('x')
    for (const [change, signers] of [
      [{ type: 'add', member: d.identity }, ['hospital-c', 'hospital-a']],
      [
        { type: 'addresses', name: 'hospital-b', addresses: ['/dns4/b.example/tcp/7400'] },
        ['hospital-b', 'hospital-c', 'hospital-d'],
      ],
      [
        {
          type: 'rotate-ed25519',
          name: 'hospital-a',
          ed25519PublicKey: fresh.identity.ed25519PublicKey,
          oldKey: 'lost',
        },
        ['hospital-b', 'hospital-c', 'hospital-d'],
      ],
      [{ type: 'quorum', quorum: 3 }, ['hospital-d', 'hospital-b', 'hospital-c']],
      [
        { type: 'remove', name: 'hospital-c' },
        ['hospital-b', 'hospital-c', 'hospital-d', 'hospital-a'],
      ],
    ] as const) {
      if (change.type === 'remove') keys.set('hospital-a', { ...a, feedKey: fresh.feedKey })
      const signed = await signedChange(v, change as never, signers, keys)
      changes.push(signed)
      v = applyProposal(v, signed)
    }
    const outside = follow(network as never, changes as never)
    const inside = verifyChain(network, changes)
    expect(outside.hashes).toEqual(inside.versions.map((x) => x.hash))
    expect(outside.members.map((m) => [m.name, m.ed25519PublicKey, m.addresses])).toEqual(
      inside.current.members.map((m) => [m.name, m.ed25519PublicKey, m.addresses]),
    )
    expect(outside.quorum).toBe(inside.current.quorum)
    expect(toHex(Buffer.from(outside.hashes[0]!, 'hex'))).toBe(inside.genesis.networkId)
  })
})
