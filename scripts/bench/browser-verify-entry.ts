// Bundled for Chromium by browser-verify.ts: the portal's verification code, timed in the page.
import { fromHex } from '../../node/core/hex.ts'
import {
  checkAnswerCompleteness,
  type NetworkKeys,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'

interface Input {
  answer: unknown
  /** The trail's further pages (a kept store's trail is longer than one page). */
  later: unknown[]
  keys: {
    networkId: string
    blsKeys: string[]
    ed25519Keys: [string, string][]
    vrfPublicKey: string
  }
  patientId: string
  runs: number
}

function benchVerify(input: Input): { times: number[]; completeness: number[] } | string {
  const bytes = (h: string) => fromHex(h) ?? new Uint8Array(0)
  const keys: NetworkKeys = {
    networkId: input.keys.networkId,
    version: 0,
    versionHash: input.keys.networkId,
    quorum: Math.floor(input.keys.blsKeys.length / 2) + 1,
    blsKeys: input.keys.blsKeys.map(bytes),
    ed25519Keys: new Map(input.keys.ed25519Keys.map(([o, k]) => [o, bytes(k)])),
    vrfPublicKey: bytes(input.keys.vrfPublicKey),
  }
  const later = []
  for (const answer of input.later) {
    const result = verifyQueryAnswer(answer, { keys, filter: { patient: input.patientId } })
    if (result.failures.length > 0) return JSON.stringify(result.failures.slice(0, 2))
    later.push({ answer, result })
  }
  const times: number[] = []
  const completeness: number[] = []
  for (let i = 0; i < input.runs; i++) {
    const t = performance.now()
    const result = verifyQueryAnswer(input.answer, { keys, filter: { patient: input.patientId } })
    if (result.failures.length > 0) return JSON.stringify(result.failures.slice(0, 2))
    const t1 = performance.now()
    try {
      checkAnswerCompleteness({
        keys,
        patientId: input.patientId,
        pages: [{ answer: input.answer, result }, ...later],
      })
    } catch (err) {
      return (err as Error).message
    }
    const end = performance.now()
    times.push(end - t)
    completeness.push(end - t1)
  }
  return { times, completeness }
}

;(globalThis as unknown as { benchVerify: typeof benchVerify }).benchVerify = benchVerify
