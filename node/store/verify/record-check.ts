import { chainFieldOffsets } from '../../core/entry.ts'
import { HASH_SIZE, hashLeafInto } from '../../core/merkle/hash.ts'
import { seqOfKey } from '../format/key-layout.ts'
import type { ValueCipher } from '../format/value-cipher.ts'

/**
 * The per-entry half of verifyReplica, which needs no other entry: authenticate and decrypt
 * the record, hash the entry, read its chain fields. It runs on worker threads (check-pool.ts)
 * as well as inline, so its input and output are flat typed arrays that cross threads as a
 * few buffers instead of thousands of objects.
 */

/** What an entry record turned out to be (its slot state in feed-checker.ts). */
export const RECORD_OK = 0
export const RECORD_UNDECRYPTABLE = 1
/** Authentic, but holds the entry of another seq. */
export const RECORD_MISPLACED = 2
/** Authentic, but holds an entry of another origin. */
export const RECORD_FOREIGN = 3

export interface CheckedRecords {
  count: number
  state: Uint8Array
  /** 1 if the entry names a prev (every entry but a feed's first). */
  hasPrev: Uint8Array
  /** The seq a misplaced entry claims. */
  claimedSeq: Float64Array
  /** Leaf hash of each decrypted entry, HASH_SIZE bytes each. */
  hashes: Uint8Array
  prevs: Uint8Array
  /** Tree nodes stored with OK records: those of record i end at nodeEnds[i] (in hashes). */
  nodeEnds: Uint32Array
  nodes: Uint8Array
}

/** Checks each record as one of `origin`'s feed, stored under its own key. */
export function checkRecords(
  cipher: ValueCipher,
  origin: string,
  records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
): CheckedRecords {
  const n = records.length
  const out: CheckedRecords = {
    count: n,
    state: new Uint8Array(n),
    hasPrev: new Uint8Array(n),
    claimedSeq: new Float64Array(n),
    hashes: new Uint8Array(n * HASH_SIZE),
    prevs: new Uint8Array(n * HASH_SIZE),
    nodeEnds: new Uint32Array(n),
    nodes: new Uint8Array(n * 2 * HASH_SIZE), // about one node per entry; grown if not
  }
  const originBytes = Buffer.from(origin, 'utf8')
  let nodeCount = 0
  for (let i = 0; i < n; i++) {
    const [key, value] = records[i]!
    const plain = cipher.open(key, value)
    const k = plain?.[0]
    out.state[i] = RECORD_UNDECRYPTABLE
    out.nodeEnds[i] = nodeCount
    // A record shorter than its node count says is treated like a changed one.
    if (!plain || k === undefined || plain.length < 1 + k * HASH_SIZE) continue
    const entryBytes = plain.subarray(1 + k * HASH_SIZE)
    const at = chainFieldOffsets(entryBytes)
    if (!at) continue
    hashLeafInto(entryBytes, out.hashes, i * HASH_SIZE)
    if (originBytes.compare(entryBytes, at.originStart, at.originEnd) !== 0) {
      out.state[i] = RECORD_FOREIGN
    } else if (at.seq !== seqOfKey(key)) {
      out.state[i] = RECORD_MISPLACED
      out.claimedSeq[i] = at.seq
    } else {
      out.state[i] = RECORD_OK
      out.hasPrev[i] = readPrev(entryBytes, at.prevStart, out.prevs, i * HASH_SIZE) ? 1 : 0
      if (out.nodes.length < (nodeCount + k) * HASH_SIZE) {
        const grown = new Uint8Array(Math.max(out.nodes.length * 2, (nodeCount + k) * HASH_SIZE))
        grown.set(out.nodes)
        out.nodes = grown
      }
      out.nodes.set(plain.subarray(1, 1 + k * HASH_SIZE), nodeCount * HASH_SIZE)
      nodeCount += k
      out.nodeEnds[i] = nodeCount
    }
  }
  return out
}

/**
 * Decodes prev's 64 lower-case hex digits into out[at..at+32]. False for the genesis link
 * (all zeros) and for anything that is not 64 lower-case hex digits: such an entry confirms
 * no predecessor, exactly as if it named none.
 */
function readPrev(b: Uint8Array, start: number, out: Uint8Array, at: number): boolean {
  if (start + 2 * HASH_SIZE > b.length) return false
  let any = 0
  for (let j = 0; j < HASH_SIZE; j++) {
    const hi = hexDigit(b[start + 2 * j]!)
    const lo = hexDigit(b[start + 2 * j + 1]!)
    if (hi < 0 || lo < 0) return false
    const byte = (hi << 4) | lo
    out[at + j] = byte
    any |= byte
  }
  return any !== 0
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}
