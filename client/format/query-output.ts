import type { EncodedEntry } from '../../node/core/entry.ts'
import {
  type Failure,
  type Membership,
  MembershipHistory,
  type QueryVerification,
  SEED_COLUMNS,
  seedRow,
} from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { toCsv } from './csv.ts'
import { toFhirJson } from './fhir.ts'
import { plural } from './plural.ts'
import { renderTable } from './text-table.ts'

/** A verified page as the output needs it (client/verify/connection.ts builds it). */
export interface PageOutput {
  node: string
  result: QueryVerification
  failures: Failure[]
  crossChecked: string[]
  notes: string[]
  next?: string
  /** A patient's trail: the completeness statement, or why it is not proven (completeness.ts). */
  completeness?: string[]
}

export const QUERY_COLUMNS = [...SEED_COLUMNS, 'INTEGRITY'] as const

const INTEGRITY_TEXT = { cosigned: 'verified', signed: 'signed-not-cosigned' } as const

/** Rows in (origin, seq) order: verified entries, and failed ones whose bytes decoded. */
export function queryRows(page: PageOutput): Array<{ entry: EncodedEntry; integrity: string }> {
  const rows = new Map<string, { entry: EncodedEntry; integrity: string }>()
  for (const v of page.result.verified)
    rows.set(v.id, { entry: v.entry, integrity: INTEGRITY_TEXT[v.integrity] })
  const failed = new Set<string>()
  for (const f of page.failures) {
    // The first failure of an entry is the one shown; the verdict lists them all.
    if (!f.entry || failed.has(f.entryId)) continue
    failed.add(f.entryId)
    rows.set(f.entryId, { entry: f.entry, integrity: `FAILED: ${f.reason}` })
  }
  return [...rows.values()].sort(
    (a, b) =>
      a.entry.entry.origin.localeCompare(b.entry.entry.origin) ||
      a.entry.entry.seq - b.entry.entry.seq,
  )
}

/** The verdict lines: what the answer was verified against, each failure, the cross-check. */
export function verdictLines(page: PageOutput, trust: Membership | MembershipHistory): string[] {
  const lines: string[] = []
  const by = page.result.cosignedBy
  // The signer bitmap indexes the members of the version the checkpoint names.
  const version = page.result.checkpoint?.checkpoint.membership.version ?? 0
  const membership =
    trust instanceof MembershipHistory ? (trust.at(version) ?? trust.current) : trust
  const names = by?.signers.map((i) => membership.members[i]?.name ?? String(i)).join(', ')
  const under = version === 0 ? '' : `, membership version ${version}`
  const checkpoint = by
    ? `cosigned by ${by.count} of ${by.of} nodes (${names}) at ${by.time}${under}`
    : 'no cosigned checkpoint'
  const count = page.result.verified.length
  if (page.failures.length === 0)
    lines.push(`verified: ${checkpoint}; ${plural(count, 'entry')} from ${page.node}`)
  else {
    lines.push(
      `FAILED: ${plural(page.failures.length, 'problem')} in the answer of ${page.node} (${checkpoint}):`,
    )
    for (const f of page.failures) lines.push(`  ${f.entryId}: ${f.reason}`)
  }
  lines.push(...(page.completeness ?? []))
  const signed = page.result.verified.filter((v) => v.integrity === 'signed').length
  // The completeness lines already count them, per origin ("not yet proven complete").
  const told = page.completeness?.some((line) => line.includes('newer')) ?? false
  if (signed > 0 && !told)
    lines.push(
      signed === 1
        ? '1 newer entry is signed by its origin, not yet cosigned'
        : `${plural(signed, 'newer entry', 'newer entries')} are signed by their origin, not yet cosigned`,
    )
  if (page.crossChecked.length > 0) {
    const dropped = page.failures.filter((f) => f.reason.startsWith('dropped by')).length
    lines.push(
      `cross-checked with ${page.crossChecked.join(', ')}: ${dropped === 0 ? 'no entry left out' : `${plural(dropped, 'entry')} left out`}`,
    )
  } else lines.push('not cross-checked: one node alone cannot prove that it left nothing out')
  lines.push(...page.notes)
  if (page.next) lines.push(`next page: --cursor ${page.next}`)
  return lines
}

/**
 * Prints a page: the table (with the verdict after it) on stdout, or json/csv/fhir on stdout
 * with the verdict on stderr, so that the data stays machine-readable.
 */
export function printPage(
  ctx: CliContext,
  page: PageOutput,
  format: 'table' | 'json' | 'csv' | 'fhir',
  membership: Membership | MembershipHistory,
): void {
  const rows = queryRows(page)
  const verdict = `${verdictLines(page, membership).join('\n')}\n`
  switch (format) {
    case 'table':
      ctx.out(
        renderTable(
          QUERY_COLUMNS,
          rows.map((r) => [...seedRow(r.entry), r.integrity]),
        ),
      )
      ctx.out(verdict)
      return
    case 'csv':
      ctx.out(
        toCsv(
          QUERY_COLUMNS,
          rows.map((r) => [...seedRow(r.entry, 2000), r.integrity]),
        ),
      )
      break
    case 'fhir':
      // FHIR AuditEvent maps audit events only; user and alert records have no such form.
      ctx.out(
        toFhirJson(
          page.result.verified.map((v) => v.entry).filter((e) => e.entry.kind === 'event'),
        ),
      )
      break
    case 'json':
      ctx.out(
        `${JSON.stringify(
          {
            verified: page.failures.length === 0,
            node: page.node,
            cosignedBy: page.result.cosignedBy ?? null,
            entries: rows.map((r) => ({
              id: `${r.entry.entry.origin}:${r.entry.entry.seq}`,
              integrity: r.integrity,
              entry: r.entry.entry,
            })),
            failures: page.failures.map((f) => ({ entryId: f.entryId, reason: f.reason })),
            crossChecked: page.crossChecked,
            ...(page.completeness ? { completeness: page.completeness } : {}),
            ...(page.next ? { next: page.next } : {}),
          },
          null,
          2,
        )}\n`,
      )
      break
  }
  ctx.err(verdict)
}
