import {
  answersHashOf,
  type BundleEnd,
  type BundleManifest,
  type BundleSignature,
  isBundleSignatureValid,
} from '../../node/core/bundle-manifest.ts'
import type {
  Failure,
  MembershipHistory,
  QueryFilter,
  QueryScope,
} from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { keyStandingOf } from './bundle-signer.ts'

/** The bundle fields its manifest is made of (verify-bundle.ts Bundle). */
export interface ManifestSource {
  createdAt: string
  createdBy: string
  filter: QueryFilter
  scope: QueryScope
  cursor?: string
  answers: unknown[]
  end?: BundleEnd
  max?: number
  signedBy?: BundleSignature
}

/** The manifest of a bundle, as its exporter signed it (pages and entries counted here). */
export function manifestOf(
  bundle: ManifestSource,
  networkId: string,
  end: BundleEnd,
  max: number,
): BundleManifest {
  const entries = bundle.answers.reduce<number>((n, a) => {
    const list = (a as { entries?: unknown } | null)?.entries
    return n + (Array.isArray(list) ? list.length : 0)
  }, 0)
  return {
    createdAt: bundle.createdAt,
    createdBy: bundle.createdBy,
    networkId,
    filter: bundle.filter,
    scope: bundle.scope,
    cursor: bundle.cursor ?? null,
    pages: bundle.answers.length,
    entries,
    end,
    max,
    answersHash: answersHashOf(bundle.answers),
  }
}

export interface BundleFindings {
  notes: string[]
  failures: Failure[]
  /** Pages are missing, or the export stopped at --max: verify-bundle exits non-zero. */
  incomplete: boolean
}

/**
 * Whether the bundle is whole and who made it. `lastNext`: the last answer's next page. The
 * signature binds the pages (count and hash), so a page removed anywhere fails it; unsigned,
 * only a removed tail shows (the last answer then still has a next page).
 */
export async function checkBundle(
  ctx: CliContext,
  bundle: ManifestSource,
  membership: MembershipHistory,
  lastNext: string | undefined,
  nodeUrl: string | undefined,
): Promise<BundleFindings> {
  const notes: string[] = []
  const failures: Failure[] = []
  let incomplete = false
  if (lastNext !== undefined) {
    incomplete = true
    if (bundle.end === 'complete')
      failures.push({
        entryId: 'bundle',
        reason:
          'pages are missing: the bundle says its export reached the end, yet its last answer has a next page',
      })
    else if (bundle.end === 'max')
      notes.push(
        `INCOMPLETE: the export stopped at --max ${bundle.max}; the rest follows --cursor ${lastNext}`,
      )
    else notes.push(`INCOMPLETE: the last answer has a next page (--cursor ${lastNext})`)
  } else if (bundle.end === undefined) notes.push('complete: the last answer has no next page')
  else notes.push('complete: the export reached the end of the answer')

  const by = `created by ${bundle.createdBy} at ${bundle.createdAt}`
  const sig = bundle.signedBy
  if (!sig || bundle.end === undefined || bundle.max === undefined) {
    notes.push(`${by}: unverified (the bundle is not signed)`)
    return { notes, failures, incomplete }
  }
  const manifest = manifestOf(bundle, membership.networkId, bundle.end, bundle.max)
  if (!isBundleSignatureValid(manifest, sig)) {
    failures.push({
      entryId: 'bundle',
      reason: `the signature of ${sig.username} does not verify: the bundle was changed after it was signed (pages, entries or fields)`,
    })
    return { notes, failures, incomplete: true }
  }
  if (!nodeUrl) {
    notes.push(
      `${by}: signed by the key ${sig.publicKey.slice(0, 16)}…, unverified as ${bundle.createdBy}'s (give --node URL to check it against the network's user records)`,
    )
    return { notes, failures, incomplete }
  }
  const standing = await keyStandingOf(ctx, membership, nodeUrl, bundle.createdBy, sig.publicKey)
  if (!standing.verified) notes.push(`${by}: signed, key unverified (${standing.reason})`)
  else
    notes.push(
      `${by}: signed by ${bundle.createdBy}'s key (user record ${standing.record}${standing.current ? '' : ', since replaced'}${standing.revoked ? ', account since revoked' : ''})`,
    )
  return { notes, failures, incomplete }
}
