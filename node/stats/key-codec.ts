import { hexBytes, pointFromBytes, type StatsKey } from '../core/stats/index.ts'

/** A StatsKey from its hex commitments (as in `dkg-key` entries and the sealed key file). */
export function decodeStatsKey(v: { n: number; k: number; commitments: string[] }): StatsKey {
  return {
    n: v.n,
    k: v.k,
    commitments: v.commitments.map((hex) => {
      const p = pointFromBytes(hexBytes(hex))
      if (!p) throw new Error('a key commitment is not a ristretto255 element')
      return p
    }),
  }
}
