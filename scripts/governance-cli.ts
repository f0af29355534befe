import { join } from 'node:path'
import type { CliContext } from '../client/context.ts'
import { main } from '../client/main.ts'
import { MembershipHistory } from '../node/core/trust/membership-history.ts'

/*
 * The governed membership commands as a hospital's admin runs them, for the demo
 * (scripts/demo-add-node.ts), the benchmark (scripts/bench/membership.ts) and the tests: the
 * ehrlog CLI in this process with the admin's own config folder (its session) and password.
 * Every command line here is one an operator types (docs/operations.md, "Adding a hospital").
 */

export interface Admin {
  /** e.g. admin@hospital-a */
  username: string
  password: string
  /** The admin's CLI config folder: where `ehrlog login` keeps the session. */
  configDir: string
  /** Tests and benchmarks only: a cheaper scrypt cost for the login key. */
  kdfCost?: { N: number; r: number; p: number }
}

export interface CliResult {
  code: number
  out: string
  err: string
}

/** `ehrlog ARGS` as `admin`, output captured. */
export async function runAs(admin: Admin, args: string[]): Promise<CliResult> {
  let out = ''
  let err = ''
  const ctx: CliContext = {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    env: {},
    configDir: admin.configDir,
    passwordInput: async () => admin.password,
    ...(admin.kdfCost ? { kdfCost: admin.kdfCost } : {}),
  }
  const code = await main(args, ctx)
  return { code, out, err }
}

/** `ehrlog ARGS` as `admin`; throws with the command's stderr unless it exits 0. */
export async function mustRunAs(admin: Admin, args: string[]): Promise<string> {
  const r = await runAs(admin, args)
  if (r.code !== 0)
    throw new Error(
      `ehrlog ${args.join(' ')} as ${admin.username}: exit ${r.code}: ${r.err}${r.out}`,
    )
  return r.out
}

/** An admin of node `name` whose config folder is under `root`. */
export function adminOfNode(
  root: string,
  name: string,
  password: string,
  kdfCost?: Admin['kdfCost'],
): Admin {
  return {
    username: `admin@${name}`,
    password,
    configDir: join(root, name),
    ...(kdfCost ? { kdfCost } : {}),
  }
}

/** `ehrlog user create` on a stopped node folder: its first admin, active at once. */
export async function createAdmin(admin: Admin, dir: string, name: string): Promise<void> {
  await mustRunAs(admin, [
    'user',
    'create',
    '--dir',
    dir,
    '--username',
    admin.username,
    '--name',
    name,
    '--password-stdin',
  ])
}

/** `ehrlog login --node URL --username ADMIN`. */
export async function logIn(admin: Admin, http: string): Promise<void> {
  await mustRunAs(admin, ['login', '--node', http, '--username', admin.username])
}

/**
 * `ehrlog network propose ARGS --node URL`: the admin's node signs the proposal as its
 * proposer and gossips it to the members; returns the proposal's id (`proposed ID: …`).
 */
export async function propose(admin: Admin, http: string, args: string[]): Promise<string> {
  const out = await mustRunAs(admin, ['network', 'propose', ...args, '--node', http])
  const id = /^proposed ([0-9a-f]{64})\b/m.exec(out)?.[1]
  if (!id) throw new Error(`ehrlog network propose printed no proposal id: ${out}`)
  return id
}

/** `ehrlog network sign ID --node URL`: the admin's node adds its signature. */
export async function sign(admin: Admin, http: string, id: string): Promise<string> {
  // The proposal reaches the signer's node by gossip: a moment after it was made elsewhere.
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      return await mustRunAs(admin, ['network', 'sign', id, '--node', http])
    } catch (err) {
      if (!/NOT_FOUND/.test((err as Error).message) || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/** Where a node stands: GET /api/v1/membership, followed from the genesis (each change checked). */
export interface MembershipStatus {
  networkId: string
  version: number
  hash: string
  members: string[]
}

/**
 * The node's applied changes (GET /api/v1/membership, public), verified from `genesis` (the
 * network.json every member started with) as a client does: a change that does not verify
 * throws its code.
 */
export async function membershipAt(http: string, genesis: unknown): Promise<MembershipStatus> {
  const res = await fetch(`${http}/api/v1/membership`, { signal: AbortSignal.timeout(5_000) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`GET ${http}/api/v1/membership: ${res.status} ${text}`)
  const body = JSON.parse(text) as {
    networkId: string
    changes: unknown[]
    latest: { version: number; hash: string }
  }
  const history = MembershipHistory.fromChain(genesis, body.changes)
  const version = history.versions[history.latest]!
  if (history.latest !== body.latest.version || version.hash !== body.latest.hash)
    throw new Error(`${http}: latest ${JSON.stringify(body.latest)} is not what its changes make`)
  return {
    networkId: history.networkId,
    version: version.number,
    hash: version.hash,
    members: version.members.map((m) => m.name).sort(),
  }
}
