import type { Command } from 'commander'
import { parseQueryFilter, QUERY_LIMITS, type QueryFilter } from '../../node/core/trust/index.ts'
import { toCount } from '../arguments.ts'

/* The flags of the commands that ask verified queries (query, export). */

export const FORMATS = ['table', 'json', 'csv', 'fhir'] as const
export type Format = (typeof FORMATS)[number]

/** Flags shared by query and export. */
export interface QueryFlags {
  patient?: string
  actor?: string
  action?: string
  resource?: string
  from?: string
  to?: string
  origin?: string
  kind?: string
  limit: number
  cursor?: string
  crossCheck: number
  network?: string
  dir?: string
  node?: string
}

export function addQueryOptions(command: Command): Command {
  return command
    .option('--patient <id>', "only this patient's trail (a patient session: always its own)")
    .option('--actor <id>', 'only entries by this actor (clinician, staff, system)')
    .option('--action <action>', 'only this action (create, read, update, delete, print, …)')
    .option('--resource <name>', 'only this EHR table or FHIR resource type')
    .option('--from <iso>', 'event time from (inclusive), e.g. 2023-12-01T00:00Z')
    .option('--to <iso>', 'event time to (exclusive)')
    .option('--origin <node>', 'only entries recorded by this node')
    .option(
      '--kind <kind>',
      "event (default), user, alert, membership or all: the network's own records too",
    )
    .option(
      '--limit <n>',
      `at most this many entries per page (max ${QUERY_LIMITS.maxLimit})`,
      toCount(1, QUERY_LIMITS.maxLimit),
      QUERY_LIMITS.defaultLimit,
    )
    .option('--cursor <cursor>', 'continue after a previous page (printed as "next page")')
    .option(
      '--cross-check <n>',
      'ask n other members the same query and report entries a node left out',
      toCount(0, 16),
      1,
    )
    .option('--network <file>', 'your copy of network.json: what answers are verified against')
    .option('--dir <dir>', 'a node folder whose network.json to use')
    .option('--node <url>', 'ask this node over HTTP (default: libp2p to the members)')
}

/** The filter flags, checked as the node will check them. */
export function filterOf(opts: QueryFlags): QueryFilter {
  const { patient, actor, action, resource, from, to, origin, kind } = opts
  return parseQueryFilter({ patient, actor, action, resource, from, to, origin, kind })
}
