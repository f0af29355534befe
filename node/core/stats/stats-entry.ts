import { EhrlogError } from '../errors.ts'
import { COUNTER_COUNT, checkPeriod } from './counters.ts'
import { MAX_MEMBERS } from './dkg.ts'
import {
  CIPHERTEXT_SIZE,
  type Ciphertext,
  ciphertextFromBytes,
  ciphertextToBytes,
} from './elgamal.ts'
import { POINT_SIZE, pointFromBytes } from './group.ts'

/*
 * The bodies of `stats` entries (docs/format.md, "Stats entries"): what a member publishes in
 * its own feed for the private statistics. Three types:
 *
 *   dkg-dealing  round 1 of the key generation: the dealer's Feldman commitments and proof;
 *   dkg-key      the key as this member combined it: the qualified dealers and the combined
 *                commitments C_0..C_{k-1} (C_0 is the public key); every member writes one,
 *                so anyone can see they agree;
 *   counters     a period's counter vector, each cell encrypted under the key with the nonce
 *                every member can re-derive (elgamal.ts counterNonce);
 *   dkg-complaint  a member's complaint that a dealer's share did not check or never came;
 *   dkg-answer   the dealer's answer: the complained-of share in the clear (anyone re-checks
 *                it) and its seed part sealed to the complainer (share-box.ts).
 *
 * Bytes are lower-case hex. No node: imports: the portal checks bundles in the browser.
 */

export type StatsEntryBody =
  | {
      type: 'dkg-dealing'
      generation: number
      n: number
      k: number
      dealer: number
      commitments: string[]
      proof: string
    }
  | {
      type: 'dkg-key'
      generation: number
      n: number
      k: number
      qualified: number[]
      commitments: string[]
    }
  | { type: 'counters'; generation: number; period: string; ciphertexts: string }
  | { type: 'dkg-complaint'; generation: number; dealer: number; complainer: number }
  | {
      type: 'dkg-answer'
      generation: number
      dealer: number
      complainer: number
      share: string
      box: string
    }

/** A dkg-answer's box: iv (12) || sealed 32-byte seed part || tag (16). */
export const ANSWER_BOX_SIZE = 60

const HEX = /^(?:[0-9a-f]{2})*$/

function bad(message: string, field: string): EhrlogError {
  return new EhrlogError('ENTRY_INVALID', `entry.body of a stats entry: ${message}`, {
    details: { field: `entry.body.${field}` },
  })
}

function hexOf(value: unknown, bytes: number, field: string): string {
  if (typeof value !== 'string' || value.length !== 2 * bytes || !HEX.test(value))
    throw bad(`${field} must be ${bytes} bytes of lower-case hex`, field)
  return value
}

function int(value: unknown, min: number, max: number, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
    throw bad(`${field} must be an integer ${min}..${max}`, field)
  return value as number
}

function keysExactly(body: Record<string, unknown>, keys: readonly string[]): void {
  const extra = Object.keys(body).filter((k) => !keys.includes(k))
  if (extra.length > 0) throw bad(`unknown field ${extra[0]}`, extra[0]!)
}

function points(value: unknown, count: number, field: string): string[] {
  if (!Array.isArray(value) || value.length !== count)
    throw bad(`${field} must be ${count} group elements`, field)
  return value.map((v, i) => {
    const hex = hexOf(v, POINT_SIZE, `${field}.${i}`)
    if (!pointFromBytes(hexBytes(hex)))
      throw bad(`${field}.${i} is not a ristretto255 element`, field)
    return hex
  })
}

export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

export function bytesHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** Checks an untrusted body; throws ENTRY_INVALID naming the field. */
export function parseStatsEntryBody(
  body: unknown,
  /** Hex of ciphertexts already decoded as canonical elements: equal text is not decoded again. */
  knownCiphertexts?: string,
): StatsEntryBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('not an object', 'type')
  const b = body as Record<string, unknown>
  const generation = int(b.generation, 1, 2 ** 32 - 1, 'generation')
  switch (b.type) {
    case 'dkg-dealing': {
      keysExactly(b, ['type', 'generation', 'n', 'k', 'dealer', 'commitments', 'proof'])
      const n = int(b.n, 1, MAX_MEMBERS, 'n')
      const k = int(b.k, 1, n, 'k')
      return {
        type: 'dkg-dealing',
        generation,
        n,
        k,
        dealer: int(b.dealer, 1, n, 'dealer'),
        commitments: points(b.commitments, k, 'commitments'),
        proof: hexOf(b.proof, 64, 'proof'),
      }
    }
    case 'dkg-key': {
      keysExactly(b, ['type', 'generation', 'n', 'k', 'qualified', 'commitments'])
      const n = int(b.n, 1, MAX_MEMBERS, 'n')
      const k = int(b.k, 1, n, 'k')
      if (!Array.isArray(b.qualified) || b.qualified.length < k || b.qualified.length > n)
        throw bad(`qualified must list ${k}..${n} dealers`, 'qualified')
      const qualified = b.qualified.map((d, i) => int(d, 1, n, `qualified.${i}`))
      if (qualified.some((d, i) => i > 0 && d <= qualified[i - 1]!))
        throw bad('qualified must ascend without repeats', 'qualified')
      return {
        type: 'dkg-key',
        generation,
        n,
        k,
        qualified,
        commitments: points(b.commitments, k, 'commitments'),
      }
    }
    case 'counters': {
      keysExactly(b, ['type', 'generation', 'period', 'ciphertexts'])
      if (typeof b.period !== 'string') throw bad('period must be a string', 'period')
      try {
        checkPeriod(b.period)
      } catch (err) {
        throw bad((err as Error).message, 'period')
      }
      const hex = hexOf(b.ciphertexts, COUNTER_COUNT * CIPHERTEXT_SIZE, 'ciphertexts')
      if (hex !== knownCiphertexts && !countersCiphertexts(hex))
        throw bad('a ciphertext is not two ristretto255 elements', 'ciphertexts')
      return { type: 'counters', generation, period: b.period, ciphertexts: hex }
    }
    case 'dkg-complaint': {
      keysExactly(b, ['type', 'generation', 'dealer', 'complainer'])
      const dealer = int(b.dealer, 1, MAX_MEMBERS, 'dealer')
      const complainer = int(b.complainer, 1, MAX_MEMBERS, 'complainer')
      if (dealer === complainer) throw bad('a member does not complain of itself', 'complainer')
      return { type: 'dkg-complaint', generation, dealer, complainer }
    }
    case 'dkg-answer': {
      keysExactly(b, ['type', 'generation', 'dealer', 'complainer', 'share', 'box'])
      return {
        type: 'dkg-answer',
        generation,
        dealer: int(b.dealer, 1, MAX_MEMBERS, 'dealer'),
        complainer: int(b.complainer, 1, MAX_MEMBERS, 'complainer'),
        share: hexOf(b.share, 32, 'share'),
        box: hexOf(b.box, ANSWER_BOX_SIZE, 'box'),
      }
    }
    default:
      throw bad(`unknown type ${JSON.stringify(b.type)}`, 'type')
  }
}

/** The cells of a counters body's hex, or undefined if any is malformed. */
export function countersCiphertexts(hex: string): Ciphertext[] | undefined {
  const bytes = hexBytes(hex)
  if (bytes.length !== COUNTER_COUNT * CIPHERTEXT_SIZE) return undefined
  const out: Ciphertext[] = []
  for (let l = 0; l < COUNTER_COUNT; l++) {
    const c = ciphertextFromBytes(bytes.subarray(l * CIPHERTEXT_SIZE, (l + 1) * CIPHERTEXT_SIZE))
    if (!c) return undefined
    out.push(c)
  }
  return out
}

export function countersHex(ciphertexts: readonly Ciphertext[]): string {
  return ciphertexts.map((c) => bytesHex(ciphertextToBytes(c))).join('')
}
