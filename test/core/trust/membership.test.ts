import { createHash } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../../node/core/errors.ts'
import { toHex } from '../../../node/core/hex.ts'
import { Membership, type PublicIdentity } from '../../../node/core/trust/index.ts'
import { TEST_VRF_PUBLIC_KEY_HEX } from '../../helpers/fixtures.ts'
import { makeIdentity } from '../../net/harness.ts'

function configError(fn: () => unknown): { field: unknown; message: string } {
  try {
    fn()
  } catch (err) {
    if (isEhrlogError(err, 'CONFIG_INVALID'))
      return { field: err.details.field, message: err.message }
    throw err
  }
  throw new Error('did not throw')
}

/** RFC 8785 for an identity: keys sorted, strings as JSON.stringify writes these (ASCII). */
function canonicalMember(m: PublicIdentity): string {
  const sorted = Object.keys(m)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(m[k as keyof PublicIdentity])}`)
  return `{${sorted.join(',')}}`
}

describe('Membership', () => {
  let a: PublicIdentity
  let b: PublicIdentity
  beforeAll(async () => {
    a = (await makeIdentity('hospital-a', ['/ip4/10.0.0.1/tcp/7400'])).identity
    b = (await makeIdentity('hospital-b', ['/dns4/b.example/tcp/7400'])).identity
  })

  it('parses network.json and looks members up by name and PeerId', () => {
    const m = Membership.parse(
      JSON.stringify({ members: [a, b], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }),
    )
    expect(m.networkId).toMatch(/^[0-9a-f]{64}$/)
    expect(m.byName('hospital-b')?.peerId).toBe(b.peerId)
    expect(m.byPeerId(a.peerId)?.name).toBe('hospital-a')
    expect(m.isMember('12D3KooWLRPJAA5o6J7hJ7xEmeXgZDf7GGbAKmAzSyqdQHbbFxDx')).toBe(false)
    expect(m.ed25519Keys().get('hospital-a')).toBe(a.ed25519PublicKey)
  })

  it('gives the verifying keys in one shape: the id, BLS keys in file order, Ed25519 keys by name', () => {
    const file = { members: [b, a], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }
    const { keys } = Membership.fromJson(file)
    expect(keys.networkId).toBe(Membership.fromJson(file).networkId)
    // The id is the SHA-256 of the file's RFC 8785 form, computed here without core's helper.
    const canonical = `{"members":[${[b, a].map(canonicalMember).join(',')}],"vrfPublicKey":"${TEST_VRF_PUBLIC_KEY_HEX}"}`
    expect(keys.networkId).toBe(createHash('sha256').update(canonical).digest('hex'))
    // A checkpoint's signer bitmap indexes members in network.json order: b first here.
    expect(keys.blsKeys.map(toHex)).toEqual([b.blsPublicKey, a.blsPublicKey])
    expect([...keys.ed25519Keys].map(([name, key]) => [name, toHex(key)])).toEqual([
      ['hospital-b', b.ed25519PublicKey],
      ['hospital-a', a.ed25519PublicKey],
    ])
  })

  it('has one network id for one content however formatted, another for other content', () => {
    const id = Membership.parse(
      JSON.stringify({ members: [a, b], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }),
    ).networkId
    const reordered = {
      members: [Object.fromEntries(Object.entries(a).reverse()), b],
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    }
    expect(Membership.parse(JSON.stringify(reordered, null, 2)).networkId).toBe(id)
    const moved = {
      members: [{ ...a, addresses: ['/ip4/10.0.0.2/tcp/7400'] }, b],
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    }
    expect(Membership.fromJson(moved).networkId).not.toBe(id)
  })

  it('strips /p2p/ from addresses and refuses one naming another peer', () => {
    const m = Membership.fromJson({
      members: [{ ...a, addresses: [`/ip4/10.0.0.1/tcp/7400/p2p/${a.peerId}`] }],
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    })
    expect(m.byName('hospital-a')?.addresses).toEqual(['/ip4/10.0.0.1/tcp/7400'])
    const err = configError(() =>
      Membership.fromJson({
        members: [{ ...a, addresses: [`/ip4/10.0.0.1/tcp/7400/p2p/${b.peerId}`] }],
        vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
      }),
    )
    expect(err.field).toBe('members.0.addresses.0')
  })

  it.each([
    ['not JSON', '{members:', ''],
    ['no VRF key', () => JSON.stringify({ members: [a] }), 'vrfPublicKey'],
    [
      'a VRF key of 31 bytes',
      () => JSON.stringify({ members: [a], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX.slice(2) }),
      'vrfPublicKey',
    ],
    [
      'no members',
      JSON.stringify({ members: [], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }),
      'members',
    ],
    [
      'a bad PeerId',
      () =>
        JSON.stringify({
          members: [a, { ...b, peerId: 'Qm-nope' }],
          vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
        }),
      'members.1.peerId',
    ],
    [
      'a short key',
      () =>
        JSON.stringify({
          members: [{ ...a, ed25519PublicKey: 'abcd' }],
          vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
        }),
      'members.0.ed25519PublicKey',
    ],
    [
      'a duplicate name',
      () =>
        JSON.stringify({
          members: [a, { ...b, name: 'hospital-a' }],
          vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
        }),
      'members.1.name',
    ],
    [
      'an unknown field',
      () =>
        JSON.stringify({ members: [{ ...a, port: 7400 }], vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX }),
      'members.0.port',
    ],
    [
      'a bad multiaddr',
      () =>
        JSON.stringify({
          members: [{ ...a, addresses: ['10.0.0.1:7400'] }],
          vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
        }),
      'members.0.addresses.0',
    ],
    [
      "another member's proof of possession",
      () =>
        JSON.stringify({
          members: [{ ...a, blsProofOfPossession: b.blsProofOfPossession }, b],
          vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
        }),
      'members.0.blsProofOfPossession',
    ],
  ])('refuses %s with CONFIG_INVALID naming the field', (_what, text, field) => {
    const err = configError(() => Membership.parse(typeof text === 'function' ? text() : text))
    expect(err.field).toBe(field)
    expect(err.message).toContain('network.json')
  })
})
