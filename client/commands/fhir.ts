import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { EhrlogError, type ErrorCode } from '../../node/core/errors.ts'
import {
  type SearchBundleVerification,
  verifySearchBundle,
} from '../../node/core/fhir/search-verify.ts'
import {
  crossCheckAnswers,
  type Failure,
  type Membership,
  type VerifiedCheckpoints,
} from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { refuseToOverwrite } from '../output-file.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'
import { membershipOf } from '../verify/index.ts'

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
      'run a FHIR AuditEvent search (ITI-81) with your saved session, verify every entry of the searchset Bundle, and print it',
    )
    .argument(
      '[params]',
      'the search, e.g. "patient=MRN-A&date=ge2024-01-01", or a whole URL such as a next link',
      '',
    )
    .option('--network <file>', 'your copy of network.json (default: the saved one)')
    .option('--node <url>', 'ask this node instead of the one that issued the session')
    .option('--out <file>', 'write the Bundle here instead of stdout')
    .option('--force', 'overwrite --out if it exists')
    .action(async (params: string, opts: FhirSearchFlags) => {
      if (opts.out) await refuseToOverwrite(opts.out, opts.force)
      const session = await loadSession(ctx)
      const membership = await membershipOf(ctx, opts)
      const base = (opts.node ?? session.node).replace(/\/+$/, '')
      // A whole URL (the `next` link of a page) is fetched as it is.
      const url = /^https?:\/\//.test(params)
        ? params
        : `${base}/fhir/AuditEvent${params ? `?${params.replace(/^\?/, '')}` : ''}`
      const bundle = await getBundle(url, sessionHeaders(session))
      const checked = verifySearchBundle(bundle, { keys: membership.keys, requested: url })
      const text = `${JSON.stringify(bundle, null, 2)}\n`
      if (opts.out) await writeFile(opts.out, text)
      else ctx.out(text)
      report(ctx, 'answer', checked, membership)
      if (checked.next) ctx.err(`next page: ${checked.next}\n`)
      if (checked.result.failures.length > 0) ctx.exitCode = EXIT.verifyFailed
    })

  program
    .command('verify-fhir')
    .description(
      'verify searchset Bundles of GET /fhir/AuditEvent against your network.json: every inclusion proof, the signed heads and the cosigned checkpoint; Bundles of the same search from different nodes are cross-checked for left-out entries',
    )
    .argument('<files...>', 'Bundle files (JSON)')
    .option('--network <file>', 'your copy of network.json (default: the saved one)')
    .action(async (files: string[], opts: { network?: string }) => {
      const membership = await membershipOf(ctx, opts)
      const memo: VerifiedCheckpoints = new Map()
      const checked: Array<{ file: string; v: SearchBundleVerification }> = []
      for (const file of files) {
        const v = verifySearchBundle(await readJson(file), {
          keys: membership.keys,
          verifiedCheckpoints: memo,
        })
        checked.push({ file, v })
        report(ctx, file, v, membership)
      }
      let failed = checked.some(({ v }) => v.result.failures.length > 0)
      for (let i = 0; i < checked.length; i++)
        for (let j = i + 1; j < checked.length; j++) {
          const [a, b] = [checked[i]!, checked[j]!]
          if (a.v.search === undefined || a.v.search !== b.v.search) continue
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
  membership: Membership,
): void {
  const { verified, failures, cosignedBy } = checked.result
  const cosigned = verified.filter((v) => v.integrity === 'cosigned').length
  const by = cosignedBy
    ? `, checkpoint of ${cosignedBy.time} cosigned by ${cosignedBy.count} of ${membership.members.length} members`
    : ', no cosigned checkpoint'
  const line = `${name}: ${verified.length} entries verified (${cosigned} cosigned, ${verified.length - cosigned} signed by their origin only)${by}; ${failures.length} failures\n`
  ctx.out(line)
  for (const f of failures as Failure[]) ctx.out(`FAILED ${f.entryId}: ${f.reason}\n`)
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
  throw new EhrlogError(code, issue?.diagnostics ?? `the node answered ${response.status}`)
}
