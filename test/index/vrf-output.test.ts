import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { vrfOutput, vrfProofToHash, vrfProve } from '../../node/core/index/index.ts'
import { vrfInput } from '../../node/core/index/layout.ts'
import { runVrfJob } from '../../node/index/vrf-jobs.ts'
import { VrfOutputs } from '../../node/index/vrf-output.ts'

/** RFC 9381 Appendix B.3 (ECVRF-EDWARDS25519-SHA512-TAI), examples 16-18: SK, alpha, beta. */
const RFC9381_B3 = [
  {
    sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    alpha: '',
    beta: '90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae',
  },
  {
    sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    alpha: '72',
    beta: 'eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031',
  },
  {
    sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    alpha: 'af82',
    beta: '645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f',
  },
]

describe('VRF outputs through X25519 (node/index/vrf-output.ts)', () => {
  for (const [i, v] of RFC9381_B3.entries()) {
    it(`gives RFC 9381 example ${16 + i}'s beta`, () => {
      expect(toHex(new VrfOutputs(fromHex(v.sk)!).output(fromHex(v.alpha)!))).toBe(v.beta)
    })
  }

  it('equals the noble-only vrfOutput and proof_to_hash(prove) for random keys and inputs', () => {
    for (let k = 0; k < 8; k++) {
      const sk = new Uint8Array(randomBytes(32))
      const outputs = new VrfOutputs(sk)
      for (let i = 0; i < 40; i++) {
        const alpha = new Uint8Array(randomBytes(i % 3 === 0 ? 0 : 1 + (i % 40)))
        const want = toHex(vrfOutput(sk, alpha))
        expect(toHex(outputs.output(alpha))).toBe(want)
        if (i % 10 === 0) expect(toHex(vrfProofToHash(vrfProve(sk, alpha)))).toBe(want)
      }
      expect(outputs.fallbacks).toBe(0) // every output above came from the X25519 path
    }
  })

  it('is what the VRF thread answers for an outputs job', () => {
    const sk = new Uint8Array(randomBytes(32))
    const ids = ['P-1', 'P-2', 'urn:oid:1.2.3|0042']
    const bytes = runVrfJob(sk, { op: 'outputs', patientIds: ids })
    ids.forEach((id, i) => {
      expect(toHex(bytes.subarray(i * 64, (i + 1) * 64))).toBe(toHex(vrfOutput(sk, vrfInput(id))))
    })
  })
})
