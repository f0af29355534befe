import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import { toHex } from '../../node/core/hex.ts'
import { sha256 } from '../../node/core/merkle/hash.ts'
import { trustedNetworkOf, UntrustedNetwork } from '../../node/portal/browser/network-trust.ts'
import { portalNetworkOf } from '../../node/portal/index.ts'
import { initNetwork } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

type NetworkJson = { members: Array<Record<string, string | string[]>> }

const idOf = (file: unknown) => toHex(sha256(new TextEncoder().encode(canonicalJson(file))))

/** The page's check of GET /api/v1/network, in Node (the same code the bundle runs). */
describe('the membership a page verifies with', () => {
  const tempDir = useTempDirs()

  async function served() {
    const dir = await tempDir()
    const { membership } = await initNetwork(dir, 3)
    const text = await readFile(join(dir, 'network.json'), 'utf8')
    return { membership, served: portalNetworkOf(membership.networkId, text) }
  }

  it('recomputes the network id as the nodes do and takes the keys from the same file', async () => {
    const { membership, served: s } = await served()
    const trusted = trustedNetworkOf(JSON.parse(JSON.stringify(s)))
    expect(trusted.networkId).toBe(membership.networkId)
    expect(trusted.blsKeys.map(toHex)).toEqual(membership.members.map((m) => m.blsPublicKey))
    expect([...trusted.ed25519Keys.keys()]).toEqual(membership.members.map((m) => m.name))
  })

  it('refuses a file that does not hash to the id the node names', async () => {
    const { served: s } = await served()
    const file = structuredClone(s.networkJson) as NetworkJson
    file.members[0]!.addresses = ['/ip4/203.0.113.9/tcp/7400']
    expect(() => trustedNetworkOf({ networkId: s.networkId, networkJson: file })).toThrow(
      /hashes to [0-9a-f]{16}…, not to the network id/,
    )
    // Consistent with its own id, the same file passes this check (the pin is what refuses it).
    expect(trustedNetworkOf({ networkId: idOf(file), networkJson: file }).networkId).toBe(
      idOf(file),
    )
  })

  it('refuses a member key without its proof of possession (rogue-key aggregates)', async () => {
    const { served: s } = await served()
    const file = structuredClone(s.networkJson) as NetworkJson
    // hospital-c's key with hospital-b's proof: consistent id, but no proof for that key.
    file.members[2]!.blsProofOfPossession = file.members[1]!.blsProofOfPossession!
    const err = (() => {
      try {
        trustedNetworkOf({ networkId: idOf(file), networkJson: file })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(UntrustedNetwork)
    expect((err as Error).message).toMatch(/does not prove possession of hospital-c's BLS key/)
  })

  it('refuses a malformed answer', () => {
    expect(() => trustedNetworkOf({ networkId: 'zz', networkJson: {} })).toThrow(UntrustedNetwork)
    expect(() => trustedNetworkOf(null)).toThrow(/malformed/)
  })
})
