import { expect } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { runCli } from '../helpers/cli.ts'
import type { Member } from './harness.ts'

/** One entry of `ehrlog log --json`: what must be byte-identical across replicas. */
export interface ReplicaEntry {
  id: string
  bytes: string
  hash: string
  body: AuditEvent
}

/** Every event entry of a stopped node's replica, through `ehrlog log --dir D --json`. */
export async function readReplica(dir: string): Promise<ReplicaEntry[]> {
  const { code, out, err } = await runCli(['log', '--dir', dir, '--json', '--limit', '1000000'])
  expect(err, `ehrlog log --dir ${dir}`).toBe('')
  expect(code).toBe(0)
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const e = JSON.parse(line) as {
        id: string
        bytes: string
        hash: string
        entry: { body: AuditEvent }
      }
      return { id: e.id, bytes: e.bytes, hash: e.hash, body: e.entry.body }
    })
    .sort((a, b) => compareIds(a.id, b.id))
}

function compareIds(a: string, b: string): number {
  const [oa, sa] = splitId(a)
  const [ob, sb] = splitId(b)
  return oa === ob ? sa - sb : oa < ob ? -1 : 1
}

function splitId(id: string): [string, number] {
  const i = id.lastIndexOf(':')
  return [id.slice(0, i), Number(id.slice(i + 1))]
}

/**
 * Reads every member's replica (all must be stopped), checks that each holds the same
 * entries with identical bytes and hashes, and that `ehrlog verify` exits 0 on each.
 * Returns the replica, by then known to be the same everywhere.
 */
export async function expectIdenticalVerifiedReplicas(members: Member[]): Promise<ReplicaEntry[]> {
  for (const m of members)
    expect(m.process, `${m.name} must be stopped to read its folder`).toBeUndefined()
  // In-process (the modules are loaded already): starting a CLI process costs more than a
  // small replica. Each command locks the folder's store, so one at a time per folder.
  const checked = await Promise.all(
    members.map(async (m) => ({
      replica: await readReplica(m.dir),
      verify: await runCli(['verify', '--dir', m.dir]),
    })),
  )
  const replicas = checked.map((c) => c.replica)
  const verified = checked.map((c) => c.verify)
  verified.forEach((verify, i) => {
    const dir = members[i]!.dir
    expect(verify.code, `ehrlog verify --dir ${dir}: ${verify.out}${verify.err}`).toBe(0)
    expect(verify.out).toMatch(/^intact: /)
  })
  const [first, ...rest] = replicas
  const fingerprint = (r: ReplicaEntry[]) => r.map((e) => `${e.id} ${e.hash} ${e.bytes}`)
  rest.forEach((replica, i) => {
    const name = members[i + 1]!.name
    expect(replica.length, `${name} entries vs ${members[0]!.name}`).toBe(first!.length)
    // A count check first keeps a failure readable; this one proves byte identity.
    expect(fingerprint(replica), `${name} replica vs ${members[0]!.name}`).toEqual(
      fingerprint(first!),
    )
  })
  return first!
}
