import { readFile, writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import type { Command } from 'commander'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { EhrlogError, type ErrorCode, isEhrlogError } from '../../node/core/errors.ts'
import { CURSOR_PARAM } from '../../node/core/fhir/search-params.ts'
import {
  type SearchBundleVerification,
  trailPatientOf,
  verifySearchBundle,
} from '../../node/core/fhir/search-verify.ts'
import {
  crossCheckAnswers,
  type Failure,
  type MembershipHistory,
  type VerifiedCheckpoints,
} from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { refuseToOverwrite } from '../output-file.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'
import {
  completenessVerdict,
  followedTrust,
  keepNewestCheckpoint,
  readNewestCheckpoint,
  scopeOf,
  sessionTrust,
} from '../verify/index.ts'

/**
 * `ehrlog fhir-search` and `ehrlog verify-fhir`: the FHIR search (GET /fhir/AuditEvent,
 * docs/fhir.md) fetched with the saved session and verified, or searchset Bundles saved by
 * any FHIR client verified offline against the client's own network.json.
 */
interface FhirSearchFlags {
  network?: string
  node?: string
  out?: string
  force?: boolean
}

export function registerFhir(program: Command, ctx: CliContext): void {
  program
    .command('fhir-search')
    .description(
      "run a FHIR AuditEvent search (ITI-81) with your saved session, verify every entry of the searchset Bundle, and print it; for one patient's whole trail, every page and its completeness proof",
    )
    .argument(
      '[params]',
      'the search, e.g. "patient=MRN-A&date=ge2024-01-01", or a whole URL such as a next link',
      '',
    )
    .option('--network <file>', 'your copy of network.json (default: the saved one)')
    .option('--node <url>', 'ask this node instead of the one that issued the session')
    .option(
      '--out <file>',
      'write the Bundle here instead of stdout (page k of a trail to FILE with .pk before its extension)',
    )
    .option('--force', 'overwrite --out if it exists')
    .action(async (params: string, opts: FhirSearchFlags) => {
      if (opts.out) await refuseToOverwrite(opts.out, opts.force)
      const session = await loadSession(ctx)
      const history = await sessionTrust(ctx, opts, session)
      const membership = history.current
      const base = (opts.node ?? session.node).replace(/\/+$/, '')
      // A whole URL (the `next` link of a page) is fetched as it is.
      let url = /^https?:\/\//.test(params)
        ? params
        : `${base}/fhir/AuditEvent${params ? `?${params.replace(/^\?/, '')}` : ''}`
      const scope = scopeOf(session)
      const keys = membership.keys
      // One patient's whole trail: every page, then the completeness proof over all of them.
      const patientId = trailPatientOf(url, scope)
      if (patientId !== undefined) url = atLeastTwoPerPage(url)
      const headers = sessionHeaders(session)
      const pages: Array<{ bundle: unknown; v: SearchBundleVerification }> = []
      let asked: string | undefined = url
      while (asked !== undefined) {
        const bundle = await (pages.length === 0
          ? getBundle(asked, headers)
          : patiently(ctx, () => getBundle(asked!, headers)))
        const v = verifySearchBundle(bundle, { keys, history, scope, requested: asked })
        pages.push({ bundle, v })
        // The next page is the search asked, with the node's cursor: never the node's own
        // link, which could name a narrower search.
        asked = patientId !== undefined ? nextOf(url, v.next) : undefined
      }
      await writePages(
        ctx,
        pages.map((p) => p.bundle),
        opts,
      )
      const many = pages.length > 1
      for (const [i, { v }] of pages.entries())
        report(ctx, many ? `page ${i + 1}` : 'answer', v, history)
      let failed = pages.some(({ v }) => v.result.failures.length > 0)
      if (patientId === undefined) {
        const next = pages[0]!.v.next
        if (next) ctx.err(`next page: ${next}\n`)
      } else {
        const known = await readNewestCheckpoint(ctx, history)
        const verdict = completenessVerdict(
          keys,
          patientId,
          pages.map(({ v }) => v.page),
          known,
        )
        // Without a cross-check, only the proof shows that no entry was left out.
        if (verdict.unproven)
          verdict.lines.push(
            "refused: one patient's whole trail must be proven complete (`ehrlog query --patient` can cross-check nodes instead)",
          )
        printCompleteness(ctx, verdict.lines, verdict.failures)
        if (verdict.unproven || verdict.failures.length > 0) failed = true
        const newest = newestOf(pages.map(({ v }) => v.result.checkpoint))
        if (!failed && newest) await keepNewestCheckpoint(ctx, keys, newest, known)
      }
      if (failed) ctx.exitCode = EXIT.verifyFailed
    })

  program
    .command('verify-fhir')
    .description(
      "verify searchset Bundles of GET /fhir/AuditEvent against your network.json: every inclusion proof, the signed heads and the cosigned checkpoint; the pages of one patient's whole trail against its completeness proof; Bundles of the same search from different nodes are cross-checked for left-out entries",
    )
    .argument('<files...>', 'Bundle files (JSON)')
    .option('--network <file>', 'your copy of network.json (default: the saved one)')
    .action(async (files: string[], opts: { network?: string }) => {
      // Offline: the pinned genesis through the chain kept from nodes followed before.
      const history = await followedTrust(ctx, opts)
      const membership = history.current
      const memo: VerifiedCheckpoints = new Map()
      const checked: Array<{ file: string; v: SearchBundleVerification }> = []
      for (const file of files) {
        const v = verifySearchBundle(await readJson(file), {
          keys: membership.keys,
          history,
          verifiedCheckpoints: memo,
        })
        checked.push({ file, v })
        report(ctx, file, v, history)
      }
      let failed = checked.some(({ v }) => v.result.failures.length > 0)
      // Pages of one patient's whole trail, as one node answered it: proven complete together.
      const trails = new Map<string, { patientId: string; pages: SearchBundleVerification[] }>()
      const trailOf = ({ v }: { v: SearchBundleVerification }) =>
        v.patientId === undefined ? undefined : JSON.stringify([v.search, nodeOf(v)])
      for (const { v } of checked) {
        const key = trailOf({ v })
        if (v.patientId === undefined || key === undefined) continue
        const trail = trails.get(key) ?? { patientId: v.patientId, pages: [] }
        trail.pages.push(v)
        trails.set(key, trail)
      }
      for (const { patientId, pages } of trails.values()) {
        const verdict = completenessVerdict(
          membership.keys,
          patientId,
          pages.map((v) => v.page),
          undefined,
        )
        if (verdict.unproven)
          verdict.lines.push("refused: one patient's whole trail must be proven complete")
        printCompleteness(ctx, verdict.lines, verdict.failures)
        if (verdict.unproven || verdict.failures.length > 0) failed = true
      }
      for (let i = 0; i < checked.length; i++)
        for (let j = i + 1; j < checked.length; j++) {
          const [a, b] = [checked[i]!, checked[j]!]
          if (a.v.search === undefined || a.v.search !== b.v.search) continue
          // Pages of one trail are proven complete together, not compared with each other.
          if (trailOf(a) !== undefined && trailOf(a) === trailOf(b)) continue
          const dropped = crossCheckAnswers(
            { node: a.file, result: a.v.result },
            { node: b.file, result: b.v.result },
          )
          for (const f of dropped) ctx.out(`FAILED ${f.entryId}: ${f.reason}\n`)
          if (dropped.length > 0) failed = true
          else ctx.out(`${a.file} and ${b.file} agree wherever both are complete\n`)
        }
      if (failed) ctx.exitCode = EXIT.verifyFailed
    })
}

function report(
  ctx: CliContext,
  name: string,
  checked: SearchBundleVerification,
  history: MembershipHistory,
): void {
  const { verified, failures, cosignedBy, checkpoint } = checked.result
  const membership = history.at(checkpoint?.checkpoint.membership.version ?? 0) ?? history.current
  const cosigned = verified.filter((v) => v.integrity === 'cosigned').length
  const by = cosignedBy
    ? `, checkpoint of ${cosignedBy.time} cosigned by ${cosignedBy.count} of ${membership.members.length} members`
    : ', no cosigned checkpoint'
  const line = `${name}: ${verified.length} entries verified (${cosigned} cosigned, ${verified.length - cosigned} signed by their origin only)${by}; ${failures.length} failures\n`
  ctx.out(line)
  for (const f of failures as Failure[]) ctx.out(`FAILED ${f.entryId}: ${f.reason}\n`)
}

/** The answering node's name, as its Bundle says (informational: it only groups a trail's pages). */
function nodeOf(v: SearchBundleVerification): unknown {
  return (v.page.answer as { node?: unknown }).node
}

function printCompleteness(ctx: CliContext, lines: string[], failures: Failure[]): void {
  for (const line of lines) ctx.out(`${line}\n`)
  for (const f of failures) ctx.out(`FAILED ${f.entryId}: ${f.reason}\n`)
}

function newestOf(
  checkpoints: Array<CosignedCheckpoint | undefined>,
): CosignedCheckpoint | undefined {
  return checkpoints.reduce<CosignedCheckpoint | undefined>(
    (a, c) => (c && (!a || c.checkpoint.timeMs > a.checkpoint.timeMs) ? c : a),
    undefined,
  )
}

/**
 * Each page asked is itself recorded in the patient's trail (a query record at the answering
 * node): pages of one entry would each add one and never reach the end.
 */
function atLeastTwoPerPage(url: string): string {
  const u = new URL(url)
  if (u.searchParams.get('_count') !== '1') return url
  u.searchParams.set('_count', '2')
  return u.toString()
}

/** The search asked, with the cursor of the node's `next` link; undefined on the last page. */
function nextOf(asked: string, next: string | undefined): string | undefined {
  if (next === undefined) return undefined
  let cursor: string | null
  try {
    cursor = new URL(next).searchParams.get(CURSOR_PARAM)
  } catch {
    cursor = null
  }
  if (cursor === null)
    throw new EhrlogError('INVALID_PROOF', `the next link ${JSON.stringify(next)} has no cursor`)
  const u = new URL(asked)
  u.searchParams.set(CURSOR_PARAM, cursor)
  return u.toString()
}

/** A follow-up page waits out RATE_LIMITED (the command is halfway through), a few times. */
async function patiently<T>(ctx: CliContext, ask: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask()
    } catch (err) {
      const seconds = Number(isEhrlogError(err) ? err.details.retryAfterSeconds : Number.NaN)
      if (!isEhrlogError(err, 'RATE_LIMITED') || !(seconds > 0 && seconds <= 60) || attempt >= 5)
        throw err
      ctx.err(`${err.message}: waiting ${seconds} s\n`)
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    }
  }
}

/**
 * The Bundles to stdout, one after another, or to --out: the first page to FILE, page k to
 * FILE with `.pk` before its extension (trail.json, trail.p2.json, …).
 */
async function writePages(
  ctx: CliContext,
  bundles: unknown[],
  opts: { out?: string; force?: boolean },
): Promise<void> {
  for (const [i, bundle] of bundles.entries()) {
    const text = `${JSON.stringify(bundle, null, 2)}\n`
    if (!opts.out) {
      ctx.out(text)
      continue
    }
    const ext = extname(opts.out)
    const file =
      i === 0 ? opts.out : `${opts.out.slice(0, opts.out.length - ext.length)}.p${i + 1}${ext}`
    if (i > 0) await refuseToOverwrite(file, opts.force)
    await writeFile(file, text)
  }
  if (opts.out && bundles.length > 1)
    ctx.err(
      `${bundles.length} pages written: ${opts.out} and its .p2 … .p${bundles.length} files\n`,
    )
}

async function readJson(file: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${file}: ${(cause as Error).message}`, {
      cause,
    })
  }
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `${file} is not JSON: ${(cause as Error).message}`, {
      cause,
    })
  }
}

/** The Bundle, or the node's OperationOutcome as an EhrlogError with its code. */
async function getBundle(url: string, headers: Record<string, string>): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) })
  } catch (cause) {
    throw new EhrlogError('UNAVAILABLE', `cannot reach ${url}: ${(cause as Error).message}`, {
      cause,
    })
  }
  const body = (await response.json().catch(() => undefined)) as
    | {
        resourceType?: string
        issue?: Array<{ diagnostics?: string; details?: { coding?: Array<{ code?: string }> } }>
      }
    | undefined
  if (response.status === 200 && body?.resourceType === 'Bundle') return body
  const issue = body?.issue?.[0]
  const code = (issue?.details?.coding?.[0]?.code ?? 'UNAVAILABLE') as ErrorCode
  const retryAfter = Number(response.headers.get('retry-after'))
  throw new EhrlogError(code, issue?.diagnostics ?? `the node answered ${response.status}`, {
    details: Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {},
  })
}
