import { describe, expect, it } from 'vitest'
import { eventsOfAuditMessage, reconcile } from '../../node/atna/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { SENDER, sendOverTls, startAtnaNetwork } from './harness.ts'
import { framed, RFC3881_QUERY, syslogOf } from './messages.ts'

/** RFC3881_QUERY as recorded by `source` for query `queryId` (both sides of one ITI-47). */
function queryAudit(source: string, queryId: string): string {
  return RFC3881_QUERY.replace('AuditSourceID="EHR-FRONTEND"', `AuditSourceID="${source}"`).replace(
    'ParticipantObjectID="Q-17"',
    `ParticipantObjectID="${queryId}"`,
  )
}

const recorded: Array<[string, string]> = [
  ['EHR-FRONTEND', 'Q-1'],
  ['PDQ-SERVER', 'Q-1'],
  ['EHR-FRONTEND', 'Q-2'], // the server never recorded this query
  ['PDQ-SERVER', 'Q-3'], // nor the client this one
  ['OTHER', 'Q-4'], // a third source is not part of the check
]

describe('reconcile: double recording of one exchange by two sources', () => {
  it('names the silent source for each correlation id one side recorded', () => {
    let n = 0
    const inputs = recorded.flatMap(([source, q]) =>
      eventsOfAuditMessage(Buffer.from(queryAudit(source, q))).map((event) => ({
        id: `hospital-a:${++n}`,
        event,
      })),
    )
    const report = reconcile(inputs, 'EHR-FRONTEND', 'PDQ-SERVER')
    expect(report.matched).toBe(1)
    expect(report.uncorrelated).toBe(0)
    expect(report.unmatched.map((u) => [u.correlationId, u.recordedBy, u.silent])).toEqual([
      ['Q-2', 'EHR-FRONTEND', 'PDQ-SERVER'],
      ['Q-3', 'PDQ-SERVER', 'EHR-FRONTEND'],
    ])
    // One message, two patients: both of its entries are named.
    expect(report.unmatched[0]!.entryIds).toEqual(['hospital-a:5', 'hospital-a:6'])
  })

  const tempDir = useTempDirs()

  it('`ehrlog reconcile` reads a stopped replica, prints the silent side and exits 3', async () => {
    const world = await startAtnaNetwork(await tempDir(), 1)
    try {
      await sendOverTls(
        world,
        world.ehr,
        Buffer.concat(recorded.map(([source, q]) => framed(syslogOf(queryAudit(source, q))))),
      )
      await waitFor('appended', () =>
        Boolean(
          world.nodes[0]!.status().syslog?.some((s) => s.sender === SENDER && s.appended === 5),
        ),
      )
    } finally {
      await Promise.all(world.nodes.map((n) => n.stop()))
    }
    const dir = world.dirs[0]!
    const cli = await runCli(['reconcile', '--dir', dir, '--between', 'EHR-FRONTEND,PDQ-SERVER'])
    expect(cli.code).toBe(3)
    expect(cli.out).toMatch(/Q-2 .* EHR-FRONTEND +PDQ-SERVER/)
    expect(cli.out).toMatch(/Q-3 .* PDQ-SERVER +EHR-FRONTEND/)
    expect(cli.out).toContain('1 exchange recorded by both, 2 by one side only')
    const same = await runCli(['reconcile', '--dir', dir, '--between', 'EHR-FRONTEND'])
    expect(same.code).toBe(2)
    expect(same.err).toContain('ARGUMENT_INVALID')
  }, 120_000)
})
