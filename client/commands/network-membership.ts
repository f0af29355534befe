import { readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { EhrlogError } from '../../node/core/errors.ts'
import {
  applyChange,
  applyProposal,
  describeChange,
  describeVersion,
  type FollowedChain,
  followChain,
  type MembershipChange,
  type MembershipVersion,
  parseSignedProposal,
  proposeChange,
  quorumOf,
  type SignedProposal,
} from '../../node/core/trust/index.ts'
import {
  NETWORK_FILE,
  type NodeIdentity,
  openNodeDir,
  parsePublicIdentity,
  readPublicIdentity,
} from '../../node/identity/index.ts'
import {
  type MemberKeys,
  needsOldKey,
  recordVote,
  signAsMember,
  VOTES_FILE,
} from '../../node/membership/governance-votes.ts'
import { type CliContext, passphraseOf } from '../context.ts'
import { plural } from '../format/plural.ts'
import { checkDialable } from './network-dialable.ts'
import { nodeMode, proposeOnNode, showOnNode, signOnNode } from './network-membership-node.ts'

/*
 * Membership changes on files, until nodes gossip them (docs/architecture.md, "A network that
 * can change"): one admin proposes a change into a file, the others sign that file (or copies
 * of it), and anyone shows where the chain stands from network.json and the files.
 */

export { VOTES_FILE }

interface ChainOptions {
  dir: string
  network?: string
  changes?: string[]
  /** A running member's URL: the command goes to it (network-membership-node.ts). */
  node?: string
}

export function registerMembershipCommands(network: Command, ctx: CliContext): void {
  const propose = network
    .command('propose')
    .description(
      'propose a membership change to a running member (--node, as its admin) or into a file (--dir, --out), signed by that node',
    )
  const common = (cmd: Command) =>
    cmd
      .option('--node <url>', 'a running member: propose as its admin (ehrlog login first)')
      .option('--dir <dir>', 'files: the proposing node folder (its key signs)')
      .option('--out <file>', 'files: where to write the proposal (must not exist)')
      .option('--network <file>', 'the genesis network.json (default: DIR/network.json)')
      .option('--changes <files...>', 'the proposal files of the changes applied so far')
  common(
    propose
      .command('add')
      .description('add a member')
      .argument('<identity>', "the new member's identity.json, or its node folder"),
  ).action(async (identityPath: string, opts: ChainOptions & { out?: string }) => {
    const identity = identityPath.endsWith('.json')
      ? parsePublicIdentity(await readJson(identityPath), identityPath)
      : await readPublicIdentity(identityPath)
    checkDialable(identity, identityPath)
    await proposeAndWrite(ctx, opts, () => ({ type: 'add', member: identity }))
  })
  common(
    propose.command('remove').description('remove a member').argument('<name>', 'the member'),
  ).action(async (name: string, opts: ChainOptions & { out?: string }) => {
    await proposeAndWrite(ctx, opts, () => ({ type: 'remove', name }))
  })
  common(
    propose
      .command('rotate')
      .description("replace one of a member's keys with the one in its new identity.json")
      .argument('<name>', 'the member')
      .requiredOption('--key <kind>', 'ed25519, bls or libp2p', toKeyKind)
      .requiredOption('--identity <file>', "the member's new identity.json (holds the new key)")
      .option(
        '--old-key-lost',
        'the old key is lost: the quorum alone decides (no old-key signature)',
      ),
  ).action(
    async (
      name: string,
      opts: ChainOptions & { out?: string; key: KeyKind; identity: string; oldKeyLost?: boolean },
    ) => {
      const next = parsePublicIdentity(await readJson(opts.identity), opts.identity)
      const oldKey = opts.oldKeyLost ? 'lost' : 'held'
      await proposeAndWrite(ctx, opts, () => {
        switch (opts.key) {
          case 'ed25519':
            return { type: 'rotate-ed25519', name, ed25519PublicKey: next.ed25519PublicKey, oldKey }
          case 'bls':
            return {
              type: 'rotate-bls',
              name,
              blsPublicKey: next.blsPublicKey,
              blsProofOfPossession: next.blsProofOfPossession,
              oldKey,
            }
          case 'libp2p':
            return { type: 'rotate-libp2p', name, peerId: next.peerId, oldKey }
        }
      })
    },
  )
  common(
    propose
      .command('addresses')
      .description("replace a member's addresses")
      .argument('<name>', 'the member')
      .argument('<multiaddr...>', 'its new addresses'),
  ).action(async (name: string, addresses: string[], opts: ChainOptions & { out?: string }) => {
    checkDialable({ name, addresses }, 'the new addresses')
    await proposeAndWrite(ctx, opts, () => ({ type: 'addresses', name, addresses }))
  })
  common(
    propose
      .command('quorum')
      .description('change how many members must sign checkpoints and changes')
      .argument('<n>', 'from a majority of the members to all of them', toCount),
  ).action(async (quorum: number, opts: ChainOptions & { out?: string }) => {
    await proposeAndWrite(ctx, opts, () => ({ type: 'quorum', quorum }))
  })

  network
    .command('sign')
    .description(
      "add a member's signature: the running node's (--node URL, as its admin) to a pending proposal, or a node folder's to a proposal file (in place)",
    )
    .argument('<proposal>', 'with --node: the proposal id (network show); else the proposal file')
    .option('--node <url>', 'a running member: sign with its key, as its admin')
    .option('--dir <dir>', 'files: the signing node folder')
    .option('--network <file>', 'the genesis network.json (default: DIR/network.json)')
    .option('--changes <files...>', 'the proposal files of the changes applied so far')
    .action(async (file: string, opts: ChainOptions) => {
      const url = nodeMode(opts, '--dir DIR and a proposal file')
      if (url) return signOnNode(ctx, url, file)
      const signed = parseSignedProposal(await readJson(file), file)
      const node = await openNodeDir(opts.dir, withPassphrase(ctx))
      const chain = await chainOf(opts, node)
      const current = chain.current
      const name = node.identity.name
      checkApplies(current, signed)
      if (signed.signatures.some((s) => s.signer === name) && !needsOldKey(signed, name)) {
        ctx.out(`${file}: ${name} already signed it; nothing changed\n`)
        return
      }
      await recordVote(node.dir, name, signed.proposal)
      const out = await signAsMember(signed, keysOf(node))
      await writeAtomic(file, out)
      let state: string
      try {
        const next = applyProposal(current, out)
        state = `enough to apply: it makes ${describeVersion(next)}`
      } catch (err) {
        if (!(err instanceof EhrlogError)) throw err
        state = `not yet applicable: ${err.message}`
      }
      ctx.out(`${file}: signed by ${name}; ${state}\n`)
    })

  network
    .command('show')
    .description(
      'the membership versions, pending proposals and who signed: of a running member (--node), or from network.json and proposal files',
    )
    .option('--node <url>', 'a running member (as its admin or auditor)')
    .option('--network <file>', 'files: the genesis network.json (the one you pinned)')
    .option('--changes <files...>', 'proposal files, in any order; copies of one proposal merge')
    .option('--json', 'print the report as JSON')
    .action(
      async (opts: { network?: string; changes?: string[]; json?: boolean; node?: string }) => {
        const url = nodeMode({ ...opts, dir: opts.network }, '--network FILE')
        if (url) return showOnNode(ctx, url, opts.json === true)
        const chain = followChain(
          await readJson(opts.network as string),
          await readProposalFiles(opts.changes),
        )
        ctx.out(opts.json ? `${JSON.stringify(reportJson(chain), null, 2)}\n` : reportText(chain))
        if (chain.equivocation)
          throw new EhrlogError(
            'EQUIVOCATION',
            `two different changes were each signed by a quorum on version ${chain.equivocation.baseVersion}; ${chain.equivocation.signedBoth.join(', ') || 'nobody'} signed both`,
            {
              details: {
                baseVersion: chain.equivocation.baseVersion,
                signedBoth: chain.equivocation.signedBoth,
              },
            },
          )
      },
    )
}

type KeyKind = 'ed25519' | 'bls' | 'libp2p'

function toKeyKind(text: string): KeyKind {
  if (text === 'ed25519' || text === 'bls' || text === 'libp2p') return text
  throw new InvalidArgumentError(`--key wants ed25519, bls or libp2p, got ${text}`)
}

function toCount(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`wants 1 to 1000, got ${text}`)
  return n
}

function withPassphrase(ctx: CliContext): { passphrase?: string } {
  const passphrase = passphraseOf(ctx)
  return passphrase ? { passphrase } : {}
}

async function proposeAndWrite(
  ctx: CliContext,
  opts: ChainOptions & { out?: string },
  makeChange: () => MembershipChange,
): Promise<void> {
  const url = nodeMode(opts, '--dir DIR --out FILE')
  if (url) return proposeOnNode(ctx, url, makeChange())
  if (!opts.out)
    throw new EhrlogError('ARGUMENT_INVALID', 'give --out FILE: where to write the proposal', {
      details: { field: 'out' },
    })
  if (await stat(opts.out).catch(() => undefined))
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `--out ${opts.out} exists; refusing to overwrite a proposal`,
      {
        details: { field: 'out' },
      },
    )
  const node = await openNodeDir(opts.dir, withPassphrase(ctx))
  const chain = await chainOf(opts, node)
  const current = chain.current
  const change = makeChange()
  // What any member would refuse (an unknown member, a key already taken, a bad proof) is
  // refused here, before anyone signs.
  applyChange(current, change)
  const name = node.identity.name
  let signed: SignedProposal = { proposal: proposeChange(current, name, change), signatures: [] }
  await recordVote(node.dir, name, signed.proposal)
  signed = await signAsMember(signed, keysOf(node))
  await writeFile(opts.out, `${JSON.stringify(signed, null, 2)}\n`, { flag: 'wx' })
  const needed = quorumNeeded(chain)
  ctx.out(
    `wrote ${opts.out}: ${describeChange(change)} on ${describeVersion(current)}, signed by ${name} (1 of the ${needed} signatures it needs)\n`,
  )
  if ('oldKey' in change && change.oldKey === 'held' && change.name !== name)
    ctx.out(
      `${change.name} must sign it too: its current ${change.type.slice(7)} key signs its own rotation\n`,
    )
  ctx.out(`send it to the other members: ehrlog network sign ${opts.out} --dir NODE_DIR\n`)
}

/** The chain as this node knows it: its genesis network.json and the applied proposal files. */
async function chainOf(opts: ChainOptions, node: NodeIdentity): Promise<FollowedChain> {
  const networkPath = opts.network ?? join(opts.dir, NETWORK_FILE)
  const chain = followChain(await readJson(networkPath), await readProposalFiles(opts.changes))
  if (chain.equivocation)
    throw new EhrlogError(
      'EQUIVOCATION',
      `the --changes files hold two quorum-signed changes on version ${chain.equivocation.baseVersion}: resolve the fork before proposing or signing (ehrlog network show)`,
      { details: { baseVersion: chain.equivocation.baseVersion } },
    )
  if (
    !chain.current.members.some(
      (m) => m.name === node.identity.name && m.ed25519PublicKey === node.identity.ed25519PublicKey,
    )
  )
    throw new EhrlogError(
      'SIGNER_UNKNOWN',
      `${node.identity.name} (${opts.dir}) is not a member of ${describeVersion(chain.current)} with this node's key; only members propose and sign changes`,
      { details: { signer: node.identity.name, version: chain.current.number } },
    )
  return chain
}

function keysOf(node: NodeIdentity): MemberKeys {
  return {
    name: node.identity.name,
    signingKey: node.signingKey,
    blsSecretKey: node.blsSecretKey,
    libp2pPrivateKey: node.libp2pPrivateKey,
  }
}

function quorumNeeded(chain: FollowedChain): number {
  return quorumOf(chain.current)
}

/** The proposal must apply to this node's current version: refused with applyProposal's codes. */
function checkApplies(current: MembershipVersion, signed: SignedProposal): void {
  const { proposal } = signed
  const where = describeVersion(current)
  if (proposal.networkId !== current.networkId)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `the proposal is for another network (${proposal.networkId.slice(0, 16)}…)`,
      {
        details: { field: 'proposal.networkId' },
      },
    )
  if (proposal.baseVersion < current.number)
    throw new EhrlogError(
      'CHANGE_REPLAYED',
      `the proposal applies to version ${proposal.baseVersion}, but this chain is at ${where}: propose it again on the current version`,
      { details: { field: 'proposal.baseVersion', version: current.number } },
    )
  if (proposal.baseVersion > current.number)
    throw new EhrlogError(
      'CHANGE_OUT_OF_ORDER',
      `the proposal applies to version ${proposal.baseVersion}, but this chain is at ${where}: pass the changes in between with --changes`,
      { details: { field: 'proposal.baseVersion', version: current.number } },
    )
  if (proposal.baseHash !== current.hash)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `the proposal applies to another version ${proposal.baseVersion} than ${where}`,
      {
        details: { field: 'proposal.baseHash', version: current.number },
      },
    )
  applyChange(current, proposal.change)
}

async function writeAtomic(path: string, value: unknown): Promise<void> {
  const partial = `${path}.partial`
  await writeFile(partial, `${JSON.stringify(value, null, 2)}\n`)
  await rename(partial, path)
}

async function readJson(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      details: { file: path },
      cause: err,
    })
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new EhrlogError('FILE_INVALID', `${path} is not JSON`, {
      details: { file: path },
      cause: err,
    })
  }
}

async function readProposalFiles(
  paths: string[] = [],
): Promise<Array<{ source: string; value: unknown }>> {
  return Promise.all(paths.map(async (source) => ({ source, value: await readJson(source) })))
}

function reportText(chain: FollowedChain): string {
  const lines: string[] = [`network ${chain.genesis.networkId}`]
  chain.versions.forEach((v, i) => {
    const by =
      i === 0
        ? 'genesis (network.json)'
        : `${describeChange(chain.applied[i - 1]!.signed.proposal.change)}; signed by ${chain.applied[i - 1]!.signers.join(', ')}`
    lines.push(`version ${v.number}  ${v.hash}  ${by}`)
  })
  const v = chain.current
  lines.push(
    `current: ${describeVersion(v)}, ${plural(v.members.length, 'member')} (${v.members.map((m) => m.name).join(', ')}), quorum ${quorumOf(v)}`,
  )
  for (const p of chain.pending)
    lines.push(
      `pending: ${describeChange(p.signed.proposal.change)} by ${p.signed.proposal.proposer} (${p.sources.join(', ')}): signed by ${p.signers.join(', ') || 'nobody'}, ${p.signers.length} of ${p.quorum}; waiting for ${p.waitingFor}`,
    )
  for (const r of chain.refused)
    lines.push(`refused: ${r.sources.join(', ')}: ${r.error.code}: ${r.error.message}`)
  for (const p of [...chain.applied, ...chain.pending])
    if (p.dropped.length)
      lines.push(`dropped signatures (${p.sources.join(', ')}): ${p.dropped.join(', ')}`)
  if (chain.equivocation)
    lines.push(
      `EQUIVOCATION on version ${chain.equivocation.baseVersion}: two quorum-signed changes (${describeChange(chain.equivocation.first.proposal.change)} / ${describeChange(chain.equivocation.second.proposal.change)}); signed both: ${chain.equivocation.signedBoth.join(', ') || 'nobody'}`,
    )
  return `${lines.join('\n')}\n`
}

function reportJson(chain: FollowedChain): unknown {
  return {
    networkId: chain.genesis.networkId,
    versions: chain.versions.map((v, i) => ({
      number: v.number,
      hash: v.hash,
      ...(i === 0
        ? {}
        : {
            change: chain.applied[i - 1]!.signed.proposal.change,
            signers: chain.applied[i - 1]!.signers,
          }),
    })),
    current: {
      number: chain.current.number,
      hash: chain.current.hash,
      quorum: quorumOf(chain.current),
      members: chain.current.members,
    },
    pending: chain.pending.map((p) => ({
      sources: p.sources,
      proposal: p.signed.proposal,
      signers: p.signers,
      quorum: p.quorum,
      waitingFor: p.waitingFor,
    })),
    refused: chain.refused.map((r) => ({ sources: r.sources, error: r.error.toJSON() })),
    ...(chain.equivocation ? { equivocation: chain.equivocation } : {}),
  }
}
