import { readFile } from 'node:fs/promises'
import { type Command, Option } from 'commander'
import type { BundleSignature } from '../../node/core/bundle-manifest.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import {
  type CheckedPage,
  completenessPatientOf,
  decodeCursor,
  type Failure,
  followChanges,
  Membership,
  MembershipHistory,
  parseQueryFilter,
  type QueryFilter,
  type QueryScope,
  shortNetworkId,
  type VerifiedCheckpoints,
  type VerifiedEntry,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { printPage } from '../format/query-output.ts'
import { checkBundle } from '../verify/bundle-checks.ts'
import { readKeptCheckpoint } from '../verify/checkpoint-since.ts'
import {
  BUNDLE_FORMAT,
  type Bundle,
  completenessVerdict,
  FORMATS,
  type Format,
  keepChain,
  loadTrust,
} from '../verify/index.ts'

interface VerifyBundleFlags {
  network?: string
  node?: string
  format: Format
  since?: string
  requireComplete?: boolean
}

export function registerVerifyBundle(program: Command, ctx: CliContext): void {
  program
    .command('verify-bundle')
    .description(
      'check an `ehrlog export` bundle with no network and no other file: every proof, head signature and checkpoint cosignature',
    )
    .argument('<file>', 'the bundle')
    .option('--network <file>', 'your own copy of network.json, instead of the one inside')
    .option(
      '--node <url>',
      "check the signer's key against the network's user records there (your session)",
    )
    .addOption(new Option('--format <format>', 'output').choices(FORMATS).default('table'))
    .option(
      '--since <file>',
      'a checkpoint you verified before (`ehrlog checkpoint --json`): an older one in the bundle is refused',
    )
    .option('--require-complete', "one patient's trail: fail unless the bundle proves it complete")
    .action(async (file: string, opts: VerifyBundleFlags) => {
      const bundle = await readBundle(file)
      const failures: Failure[] = []
      let inside: Membership | undefined
      try {
        inside = Membership.fromJson(bundle.network, `${file}: network`)
      } catch (err) {
        failures.push({ entryId: 'membership', reason: (err as Error).message })
      }
      // The genesis trusted: the user's own network.json (with the chain kept from nodes
      // followed before), else the bundle's; then the bundle's signed changes, each checked.
      let pinned: MembershipHistory
      if (opts.network) {
        pinned = (await loadTrust(ctx, { network: opts.network })).history
        ctx.err(
          `trusting your network.json (${opts.network}), network id ${shortNetworkId(pinned.networkId)}\n`,
        )
        if (inside && inside.networkId !== pinned.networkId)
          failures.push({
            entryId: 'membership',
            reason: `the bundle's membership (network id ${shortNetworkId(inside.networkId)}) is not yours (${shortNetworkId(pinned.networkId)})`,
          })
      } else if (inside) {
        pinned = MembershipHistory.fromChain(bundle.network, [])
        ctx.err(
          `trusting the membership inside the bundle: network id ${shortNetworkId(inside.networkId)}, members ${inside.members.map((m) => m.name).join(', ')}; pin your own copy with --network FILE\n`,
        )
      } else throw new EhrlogError('FILE_INVALID', `${file}: ${failures[0]?.reason}`)
      const history = followBundleChain(pinned, bundle.membership, file, failures)
      if (opts.network && history.latest > pinned.latest) await keepChain(ctx, history)
      const membership = history.current

      const scope = scopeFrom(bundle.scope)
      const verified: VerifiedEntry[] = []
      const pages: CheckedPage[] = []
      let first: ReturnType<typeof verifyQueryAnswer> | undefined
      let cursor = bundle.cursor
      const verifiedCheckpoints: VerifiedCheckpoints = new Map()
      bundle.answers.forEach((answer, i) => {
        if (cursor !== undefined && !isCursor(cursor)) {
          failures.push({
            entryId: 'answer',
            reason: `answer ${i} gives a next page that is not a cursor`,
          })
          cursor = undefined
        }
        const result = verifyQueryAnswer(answer, {
          keys: membership.keys,
          history,
          filter: bundle.filter,
          scope,
          ...(cursor === undefined ? {} : { cursor }),
          verifiedCheckpoints,
        })
        first ??= result
        pages.push({ answer, result })
        verified.push(...result.verified)
        failures.push(...result.failures)
        const next = (answer as { next?: unknown } | null)?.next
        cursor = typeof next === 'string' ? next : undefined
        if (cursor === undefined && i < bundle.answers.length - 1)
          failures.push({
            entryId: 'answer',
            reason: `answer ${i + 1} has no next page, yet more follow`,
          })
      })
      if (!first) throw new EhrlogError('FILE_INVALID', `${file} holds no answers`)
      const whole = await checkBundle(ctx, bundle, history, cursor, opts.node)
      failures.push(...whole.failures)
      // One patient's whole trail: the completeness proof, checked offline like the rest.
      const patientId =
        bundle.cursor === undefined ? completenessPatientOf(bundle.filter, scope) : undefined
      let completeness: string[] | undefined
      let unproven = false
      if (patientId !== undefined && cursor === undefined) {
        const since = opts.since ? await readKeptCheckpoint(opts.since, history) : undefined
        const verdict = completenessVerdict(membership.keys, patientId, pages, since)
        failures.push(...verdict.failures)
        completeness = verdict.lines
        unproven = verdict.unproven && opts.requireComplete === true
        if (unproven) completeness.push('refused: completeness is required (--require-complete)')
      } else if (patientId !== undefined)
        completeness = ['completeness: not proven (the bundle does not hold the whole trail)']
      const node = String((bundle.answers[0] as { node?: unknown })?.node ?? 'the exporter')
      printPage(
        ctx,
        {
          node,
          result: { ...first, verified },
          failures,
          crossChecked: [],
          notes: whole.notes,
          ...(completeness ? { completeness } : {}),
        },
        opts.format,
        history,
      )
      if (failures.length > 0 || whole.incomplete || unproven) ctx.exitCode = EXIT.verifyFailed
    })
}

/**
 * The pinned history followed through the bundle's signed changes (from genesis, in order):
 * a change that does not verify is a failure named `membership` (the versions it would make
 * stay unknown, so checkpoints naming them fail too); without changes, version 0 alone.
 */
function followBundleChain(
  pinned: MembershipHistory,
  changes: unknown,
  file: string,
  failures: Failure[],
): MembershipHistory {
  if (changes === undefined) return pinned
  if (!Array.isArray(changes)) {
    failures.push({ entryId: 'membership', reason: `${file}: membership is not a list of changes` })
    return pinned
  }
  let history = pinned
  try {
    // Change by change, so that the versions before a refused one still verify what they made.
    for (const [i, change] of changes.entries())
      history = followChanges(history, i, [change], `the bundle`)
  } catch (err) {
    failures.push({ entryId: 'membership', reason: (err as Error).message })
  }
  return history
}

function isCursor(text: string): boolean {
  try {
    decodeCursor(text)
    return true
  } catch {
    return false
  }
}

/** The bundle file, parsed at the edge: shape only; its contents are verified after. */
async function readBundle(file: string): Promise<Bundle & { filter: QueryFilter }> {
  let value: Partial<Bundle>
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as Partial<Bundle>
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `${file} is not a readable JSON bundle`, { cause })
  }
  if (value?.format !== BUNDLE_FORMAT || !Array.isArray(value.answers))
    throw new EhrlogError('FILE_INVALID', `${file} is not an ehrlog bundle (${BUNDLE_FORMAT})`)
  return {
    ...(value as Bundle),
    filter: parseQueryFilter(value.filter ?? {}),
    createdBy: String(value.createdBy),
    createdAt: String(value.createdAt),
    cursor: typeof value.cursor === 'string' ? value.cursor : undefined,
    end: value.end === 'complete' || value.end === 'max' ? value.end : undefined,
    max: Number.isSafeInteger(value.max) ? value.max : undefined,
    signedBy: signatureFrom(value.signedBy),
  }
}

function scopeFrom(value: unknown): QueryScope {
  const patientId = (value as QueryScope | undefined)?.patientId
  return typeof patientId === 'string' ? { patientId } : {}
}

function signatureFrom(value: unknown): BundleSignature | undefined {
  const v = value as Partial<BundleSignature> | undefined
  return typeof v?.username === 'string' &&
    typeof v.publicKey === 'string' &&
    typeof v.signature === 'string'
    ? { username: v.username, publicKey: v.publicKey, signature: v.signature }
    : undefined
}
