import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { NetService } from '../../node/net/index.ts'
import { TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'
import { makeIdentity } from './harness.ts'
import { MemoryReplicaStore } from './memory-replica-store.ts'

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

describe('NetService configuration', () => {
  it('refuses a node name that is not a member, and a key whose PeerId is not its own', async () => {
    const { identity } = await makeIdentity('hospital-a')
    const membership = Membership.fromJson({
      members: [identity],
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    })
    const base = {
      membership,
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      store: new MemoryReplicaStore(new Map()),
      logger: pino({ level: 'silent' }),
    }
    expect(configError(() => new NetService({ ...base, self: 'hospital-z' })).field).toBe('self')
    const net = new NetService({ ...base, self: 'hospital-a' })
    await expect(net.start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { field: 'peerId' },
    })
    await net.stop()
    await net.stop()
  })
})
