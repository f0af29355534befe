import type { BundleEnd, BundleSignature } from '../../node/core/bundle-manifest.ts'
import type { QueryFilter, QueryScope } from '../../node/core/trust/index.ts'

export const BUNDLE_FORMAT = 'ehrlog-bundle/1'

/** What `ehrlog export` writes: answers as the node sent them, and the membership they verify against. */
export interface Bundle {
  format: typeof BUNDLE_FORMAT
  createdAt: string
  createdBy: string
  filter: QueryFilter
  scope: QueryScope
  /** The cursor of the first answer, when the export started after one. */
  cursor?: string
  /** network.json as the exporter had it: the genesis of the network's membership. */
  network: unknown
  /**
   * The signed membership changes from genesis to the newest version the answers'
   * checkpoints name, in order (docs/format.md, "Export bundles"); absent or empty in bundles
   * of version-0 networks and of older versions.
   */
  membership?: unknown[]
  /** Query answers (docs/query.md), each page continuing after the previous one's `next`. */
  answers: unknown[]
  /** How the export ended (absent in bundles of older versions): bundle-checks.ts. */
  end?: BundleEnd
  /** The --max the export was given. */
  max?: number
  /** The exporting account's signature over the manifest (export --sign). */
  signedBy?: BundleSignature
}
