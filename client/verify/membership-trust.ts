import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError, isEhrlogError } from '../../node/core/errors.ts'
import {
  followMembershipAnswer,
  MembershipHistory,
  membershipAnswerOf,
  type VersionRef,
} from '../../node/core/trust/index.ts'
import { LiveMembership } from '../../node/membership/live-membership.ts'
import type { CliContext } from '../context.ts'
import { callNode, type NodeEndpoint } from '../node-client.ts'
import { configDirOf } from '../session-store.ts'
import { networkFileOf } from './membership-file.ts'

/*
 * The client's trust policy (docs/architecture.md, "What clients trust"): the genesis
 * network.json the user pinned, then only the membership changes that verify from it, each
 * against the version before it; a checkpoint is verified under the keys of the version it
 * names. The chain verified so far is kept per network in the config folder
 * (CONFIG/membership/<network id>.json, as the newest checkpoint is kept beside it): a node
 * whose chain does not extend it is refused (CHAIN_BROKEN), one that forks it is an
 * equivocation (EQUIVOCATION). The file is read back as untrusted input and verified again.
 */

const KEPT_DIR = 'membership'

/** A chain's file as kept: the network id and the applied signed changes in order. */
interface KeptChain {
  networkId: string
  changes: unknown[]
}

/** What the user pinned (network.json as parsed, and where from) and the history verified from it. */
export interface PinnedTrust {
  genesis: unknown
  source: string
  history: MembershipHistory
}

/**
 * The history a command verifies with: the pinned genesis (the network.json of --network,
 * --dir or the config folder) through the kept chain, followed through what `from` shows: a
 * running node's changes, or a stopped node folder's. Without `from`, the kept chain alone.
 */
export async function followedTrust(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
  from?: { endpoint: NodeEndpoint } | { dir: string },
): Promise<MembershipHistory> {
  const pinned = await loadTrust(ctx, opts)
  if (!from) return pinned.history
  if ('endpoint' in from) return followNode(ctx, pinned.history, from.endpoint)
  return followFolder(ctx, pinned.history, pinned.genesis, from.dir)
}

/**
 * followedTrust for the commands that query with a session: the changes from --node, else the
 * session's home node. When that node cannot be reached (the query may still go over libp2p),
 * the kept chain alone, said on stderr.
 */
export async function sessionTrust(
  ctx: CliContext,
  opts: { network?: string; dir?: string; node?: string },
  session: { node: string },
): Promise<MembershipHistory> {
  const pinned = await loadTrust(ctx, opts)
  const url = (opts.node ?? session.node).replace(/\/+$/, '')
  try {
    return await followNode(ctx, pinned.history, { url, token: undefined })
  } catch (err) {
    if (!isEhrlogError(err, 'UNAVAILABLE')) throw err
    ctx.err(
      `membership: ${url} did not answer (${err.message}); verifying with the chain you hold (version ${pinned.history.latest})\n`,
    )
    return pinned.history
  }
}

/** The pinned genesis (the network.json of --network, --dir or the config folder) and the kept chain. */
export async function loadTrust(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
): Promise<PinnedTrust> {
  const path = await networkFileOf(ctx, opts)
  if (!path)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'give --network FILE (your copy of network.json): answers are verified against it, not trusted',
      { details: { field: 'network' } },
    )
  const genesis = await readGenesis(path)
  return { genesis, source: path, history: await trustFromGenesis(ctx, genesis, path) }
}

/** The history from `genesis` (a parsed network.json) through the chain kept for its network. */
export async function trustFromGenesis(
  ctx: CliContext,
  genesis: unknown,
  source: string,
): Promise<MembershipHistory> {
  let history: MembershipHistory
  try {
    history = MembershipHistory.fromChain(genesis, [])
  } catch (err) {
    if (isEhrlogError(err))
      throw new EhrlogError(err.code, `${source}: ${err.message}`, {
        details: err.details,
        cause: err,
      })
    throw err
  }
  const kept = await readKept(ctx, history.networkId)
  if (!kept) return history
  try {
    return MembershipHistory.fromChain(genesis, kept.changes)
  } catch (err) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${keptPathOf(ctx, history.networkId)}: the membership chain you verified before no longer verifies from ${source} (${(err as Error).message}); if the file was damaged, remove it and follow the chain again`,
      { cause: err, details: { field: KEPT_DIR } },
    )
  }
}

/**
 * `history` followed through the changes a running node shows (GET /api/v1/membership after
 * the newest version held), each checked; the longer chain is kept. A chain that does not
 * extend the held one is asked again from genesis, which names the fork (EQUIVOCATION) or the
 * refused change. A node without the route (an older version) leaves `history` as it is.
 */
export async function followNode(
  ctx: CliContext,
  history: MembershipHistory,
  endpoint: NodeEndpoint,
): Promise<MembershipHistory> {
  const ask = (after: number) =>
    callNode<unknown>(
      { ...endpoint, token: undefined },
      'GET',
      `/api/v1/membership${after > 0 ? `?after=${after}` : ''}`,
    )
  let answer: unknown
  try {
    answer = await ask(history.latest)
  } catch (err) {
    if (isEhrlogError(err, 'NOT_FOUND')) return history
    throw err
  }
  let followed: MembershipHistory
  try {
    try {
      followed = followMembershipAnswer(history, answer, endpoint.url)
    } catch (err) {
      if (!isEhrlogError(err, 'CHAIN_BROKEN') || history.latest === 0) throw err
      // From genesis, the node's whole chain against the one held: where do they part?
      followed = followMembershipAnswer(history, await ask(0), endpoint.url)
    }
  } catch (err) {
    throw fromSource(err, endpoint.url)
  }
  await keepChain(ctx, followed)
  return followed
}

/**
 * `history` followed through the changes a node folder applied (DIR/membership/NNNNNN.json),
 * verified from the same pinned genesis: for commands that read a stopped node's folder.
 */
export async function followFolder(
  ctx: CliContext,
  history: MembershipHistory,
  genesis: unknown,
  dir: string,
): Promise<MembershipHistory> {
  let followed: MembershipHistory
  try {
    const live = await LiveMembership.load(dir, genesis)
    followed = followMembershipAnswer(history, membershipAnswerOf(live.history, 0), dir)
  } catch (err) {
    throw fromSource(err, dir)
  }
  await keepChain(ctx, followed)
  return followed
}

/** Keeps `history`'s chain when it is longer than the kept one. Written whole. */
export async function keepChain(ctx: CliContext, history: MembershipHistory): Promise<void> {
  if (history.latest === 0) return
  let dir: string
  try {
    dir = join(configDirOf(ctx), KEPT_DIR)
  } catch {
    return // no config folder (a test without one): nothing to remember
  }
  const kept = await readKept(ctx, history.networkId)
  if (kept && kept.changes.length >= history.latest) return
  const path = keptPathOf(ctx, history.networkId)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const file: KeptChain = { networkId: history.networkId, changes: [...history.applied] }
  await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
  await rename(temp, path)
}

/**
 * MEMBERSHIP_UNKNOWN said for the user: the checkpoint names a version whose changes neither
 * the node nor the kept chain showed. Other errors pass unchanged.
 */
export function explainUnknown(err: unknown, ref: VersionRef, where: string): unknown {
  if (!isEhrlogError(err, 'MEMBERSHIP_UNKNOWN')) return err
  const latest = Number(err.details.latest)
  return new EhrlogError(
    'MEMBERSHIP_UNKNOWN',
    `the checkpoint is cosigned under membership version ${ref.version}, but ${where} showed the signed changes only up to version ${latest}: it cannot be verified until a member shows the changes that make version ${ref.version} (ask another member with --node URL); ${err.message}`,
    { details: err.details, cause: err },
  )
}

/** A refusal of the chain `source` showed, marked so that the CLI's hint says what to do. */
function fromSource(err: unknown, source: string): unknown {
  if (!isEhrlogError(err) || err.code === 'UNAVAILABLE') return err
  return new EhrlogError(err.code, err.message, {
    details: { ...err.details, membershipSource: source },
    cause: err,
  })
}

function keptPathOf(ctx: CliContext, networkId: string): string {
  return join(configDirOf(ctx), KEPT_DIR, `${networkId}.json`)
}

async function readKept(ctx: CliContext, networkId: string): Promise<KeptChain | undefined> {
  let text: string
  try {
    text = await readFile(keptPathOf(ctx, networkId), 'utf8')
  } catch {
    return undefined
  }
  let value: Partial<KeptChain>
  try {
    value = JSON.parse(text) as Partial<KeptChain>
  } catch (cause) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${keptPathOf(ctx, networkId)} is not JSON: remove it and follow the chain again`,
      { cause, details: { field: KEPT_DIR } },
    )
  }
  if (value?.networkId !== networkId || !Array.isArray(value.changes))
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${keptPathOf(ctx, networkId)} is not this network's membership chain: remove it and follow the chain again`,
      { details: { field: KEPT_DIR } },
    )
  return { networkId, changes: value.changes }
}

async function readGenesis(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    })
  }
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `${path} is not JSON`, { cause })
  }
}
