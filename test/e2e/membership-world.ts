import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { expect } from 'vitest'
import {
  type Admin,
  adminOfNode,
  type CliResult,
  createAdmin,
  logIn as logInAt,
  type MembershipStatus,
  membershipAt,
  propose as proposeAt,
  runAs,
  sign as signAt,
} from '../../scripts/governance-cli.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import type { LocalNetwork, Member } from './harness.ts'
import { postEvents, waitFor } from './node-api.ts'

/*
 * What the membership-change scenario (membership-change.test.ts) does with real node
 * processes, through the commands an operator runs: admins with CLI sessions, the governed
 * `ehrlog network propose | sign | show --node URL`, a hospital that joins with the genesis
 * network.json, alert emails to a real SMTP server, and a steady ingest that records what was
 * acknowledged. Every command line an operator would type is in this file, in one place.
 */

/** Tests only: a cheap scrypt cost for the admins' login keys (the CLI's default is 2^15). */
const FAST_KDF = { N: 2 ** 10, r: 8, p: 1 }

export const adminOf = (m: { name: string }) => `admin@${m.name}`
export const passwordOf = (m: { name: string }) => `pw of ${adminOf(m)}`
/** The address each hospital's alerts go to (one SMTP server receives them all). */
export const mailboxOf = (m: { name: string }) => `it@${m.name}.example`

/** m's admin, with its own CLI config folder (its session) under `root`/cli. */
export function adminFor(root: string, m: { name: string }): Admin {
  return adminOfNode(join(root, 'cli'), m.name, passwordOf(m), FAST_KDF)
}

/** The CLI in this process as `m`'s admin. */
export function adminCli(root: string, m: { name: string }, args: string[]): Promise<CliResult> {
  return runAs(adminFor(root, m), args)
}

/** Like adminCli, and expects exit 0 (the failure message carries the command's stderr). */
export async function adminOk(root: string, m: { name: string }, args: string[]): Promise<string> {
  const r = await adminCli(root, m, args)
  expect(r.code, `ehrlog ${args.join(' ')} as ${adminOf(m)}: ${r.out}${r.err}`).toBe(0)
  return r.out
}

/**
 * Before the node's first start: its admin (`ehrlog user create`, offline on the stopped
 * folder) and its alert emails to `mailboxOf(m)` through the SMTP server on `smtpPort`.
 */
export async function prepareFolder(
  root: string,
  m: { name: string; dir: string },
  smtpPort: number,
): Promise<void> {
  await createAdmin(adminFor(root, m), m.dir, `Admin of ${m.name}`)
  const path = join(m.dir, 'config.json')
  const config = JSON.parse(await readFile(path, 'utf8'))
  config.alerts = {
    admins: [mailboxOf(m)],
    smtp: {
      host: '127.0.0.1',
      port: smtpPort,
      secure: false,
      requireTLS: false,
      from: `ehrlog@${m.name}.example`,
    },
    // Long enough that a member stopped on purpose for a few seconds is no incident, short
    // enough that a node still counting a removed member would alert within the test.
    memberSilenceMs: 30_000,
  }
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 })
}

/** `ehrlog login --node URL` as m's admin (the session goes to its config folder). */
export async function logIn(root: string, m: Member): Promise<void> {
  await logInAt(adminFor(root, m), m.http)
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/**
 * A new hospital, as docs/operations.md "Adding a hospital" has it: `ehrlog init` on its own
 * machine, the network's genesis network.json and index.key copied in (the same files every
 * member started with: the changes since come from the members, verified), its admin and
 * alerts; joined to `net` so that the harness starts, stops and cleans it up like the others.
 * It starts like any node: no version its genesis holds lists it, so it is joining (m16net).
 */
export async function initJoiningHospital(
  net: LocalNetwork,
  name: string,
  smtpPort: number,
): Promise<Member> {
  const dir = join(net.root, name)
  const [p2p, http] = [await freePort(), await freePort()]
  await adminOk(net.root, { name }, [
    'init',
    '--dir',
    dir,
    '--name',
    name,
    '--listen',
    `/ip4/127.0.0.1/tcp/${p2p}`,
    '--http-port',
    String(http),
  ])
  await copyFile(join(net.root, 'net', 'network.json'), join(dir, 'network.json'))
  // `network init` put the index key in each member's folder: a member hands it over.
  await copyFile(join(net.root, 'net', 'hospital-a', 'index.key'), join(dir, 'index.key'))
  await chmod(join(dir, 'index.key'), 0o600)
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
    apiToken: string
  }
  const member: Member = {
    name,
    dir,
    http: `http://127.0.0.1:${http}`,
    apiToken: config.apiToken,
    logFile: join(net.root, `${name}.log`),
    process: undefined,
  }
  await prepareFolder(net.root, member, smtpPort)
  net.members.push(member)
  return member
}

/**
 * Where a node stands in the membership chain: its GET /api/v1/membership, every change
 * verified from `genesis` (the parsed network.json every member started with).
 */
export function membershipOf(m: Member, genesis: unknown): Promise<MembershipStatus> {
  return membershipAt(m.http, genesis)
}

/** `ehrlog network propose ARGS --node URL` as m's admin; the proposal's id. */
export async function propose(root: string, m: Member, args: string[]): Promise<string> {
  const id = await proposeAt(adminFor(root, m), m.http, args)
  expect(id).toMatch(/^[0-9a-f]{16,64}$/)
  return id
}

/** `ehrlog network sign ID --node URL` as m's admin: m's node adds its signature. */
export function sign(root: string, m: Member, id: string): Promise<string> {
  return signAt(adminFor(root, m), m.http, id)
}

/**
 * A member's new key, as its admin makes it: `ehrlog keys rotate --dir DIR --kind KIND` draws
 * it into keys-next.enc beside the keys in use (the running node keeps signing with those until
 * the change is applied at a cut) and writes identity-next.json naming it, for the proposal.
 * Returns that file.
 */
export async function newKey(root: string, m: Member, kind: 'ed25519' | 'bls'): Promise<string> {
  await adminOk(root, m, ['keys', 'rotate', '--dir', m.dir, '--kind', kind])
  return join(m.dir, 'identity-next.json')
}

/** One acknowledged event: where it was sent, the id the node gave it, its distinct note. */
export interface Acked {
  at: string
  id: string | undefined
  note: string
}

/**
 * Steady ingest: every `everyMs`, one event to each node in `targets()` (read anew at each
 * tick, so the test can add and drop nodes), each with an idempotency key. A 201 (id given)
 * or a 202 (stored pending, sequenced later) is an acknowledgement and is recorded; anything
 * else (a node stopping, a timeout) is not, and only counted.
 */
export class SteadyIngest {
  readonly acked: Acked[] = []
  refused = 0
  #next = 0
  #running = true
  #loop: Promise<void>

  constructor(targets: () => Member[], everyMs = 200) {
    this.#loop = (async () => {
      while (this.#running) {
        const tick = Date.now()
        await Promise.all(targets().map((m) => this.#postOne(m)))
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - tick))))
      }
    })()
  }

  async #postOne(m: Member): Promise<void> {
    const i = this.#next++
    const event = makeEvent(1_000_000 + i)
    try {
      const res = await postEvents(m, [event], { key: `steady-${i}` })
      if (res.status === 201) {
        const { ids } = (await res.json()) as { ids: string[] }
        this.acked.push({ at: m.name, id: ids[0], note: event.notes! })
      } else if (res.status === 202) {
        await res.body?.cancel()
        this.acked.push({ at: m.name, id: undefined, note: event.notes! })
      } else {
        await res.body?.cancel()
        this.refused++
      }
    } catch {
      this.refused++
    }
  }

  /** How many of `origin`'s events were acknowledged with an id, and the highest seq. */
  highestSeq(origin: string): number {
    let high = 0
    for (const a of this.acked)
      if (a.id?.startsWith(`${origin}:`))
        high = Math.max(high, Number(a.id.slice(origin.length + 1)))
    return high
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#loop
  }
}

/** How long a quorum-signed change may take to be applied everywhere (a cut is ≤ 10 s away). */
const APPLY_MS = 60_000

/** The latest checkpoint at a node, as the CLI verified it from the pinned genesis. */
export interface CheckpointSeen {
  signers: string[]
  version: number
  feeds: Array<{ origin: string; treeSize: number }>
}

/** Watches the nodes' membership versions and checkpoints, from the pinned genesis. */
export class ChainWatch {
  constructor(
    readonly root: string,
    /** The genesis network.json's path (the CLI's --network). */
    readonly genesis: string,
    readonly genesisJson: unknown,
  ) {}

  /** Waits until each of `members` has applied `version` and lists exactly `names`; ms taken. */
  async applied(members: Member[], version: number, names: string[]): Promise<number> {
    const t0 = Date.now()
    await waitFor(
      `${members.map((m) => m.name).join(', ')} at membership version ${version}`,
      async () => {
        const seen = await Promise.all(members.map((m) => membershipOf(m, this.genesisJson)))
        const done = seen.every(
          (s) => s.version === version && s.members.join(',') === [...names].sort().join(','),
        )
        return { done, value: seen.map((s) => `${s.version}:${s.members.join('+')}`) }
      },
      APPLY_MS,
      100,
    )
    return Date.now() - t0
  }

  /** `ehrlog checkpoint --node URL --network GENESIS --json` as m's admin: verified. */
  async checkpointAt(m: Member): Promise<CheckpointSeen> {
    const r = await adminCli(this.root, m, [
      'checkpoint',
      '--node',
      m.http,
      '--network',
      this.genesis,
      '--json',
    ])
    if (r.code !== 0) throw new Error(`checkpoint at ${m.name}: ${r.out}${r.err}`)
    const parsed = JSON.parse(r.out) as {
      verified: boolean
      signers: string[]
      cosigned: {
        checkpoint: {
          membership: { version: number }
          feeds: Array<{ origin: string; treeSize: number }>
        }
      }
    }
    expect(parsed.verified).toBe(true)
    return {
      signers: parsed.signers,
      version: parsed.cosigned.checkpoint.membership.version,
      feeds: parsed.cosigned.checkpoint.feeds,
    }
  }

  /** Waits for a checkpoint at m of `version` that `signer` cosigned and that passes `also`. */
  async cosignedBy(
    m: Member,
    version: number,
    signer: string,
    also: (feeds: Map<string, number>) => boolean = () => true,
  ): Promise<void> {
    await waitFor(
      `a checkpoint of version ${version} at ${m.name} cosigned by ${signer}`,
      async () => {
        const cp = await this.checkpointAt(m)
        const feeds = new Map(cp.feeds.map((f) => [f.origin, f.treeSize]))
        return {
          done: cp.version === version && cp.signers.includes(signer) && also(feeds),
          value: cp,
        }
      },
      APPLY_MS,
      1000,
    )
  }
}
