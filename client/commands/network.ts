import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { EhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import { vrfKeyPair } from '../../node/core/index/index.ts'
import { Membership, shortNetworkId } from '../../node/core/trust/index.ts'
import {
  initNodeDir,
  NETWORK_FILE,
  NODE_FILES,
  newIndexKey,
  type PublicIdentity,
  readIndexKeyFile,
  readPublicIdentity,
  writeIndexKey,
} from '../../node/identity/index.ts'
import { toPort } from '../arguments.ts'
import { type CliContext, passphraseOf } from '../context.ts'
import { plural } from '../format/plural.ts'
import { checkDialable } from './network-dialable.ts'
import { registerMembershipCommands } from './network-membership.ts'

/** Node names of a local network: hospital-a, hospital-b, … */
export function localNodeName(i: number): string {
  return `hospital-${String.fromCharCode(97 + i)}`
}

export function registerNetwork(program: Command, ctx: CliContext): void {
  const network = program
    .command('network')
    .description('create or assemble the membership of a network, and change it')
  network
    .command('init')
    .description('a local network in one step: N node folders and their network.json')
    .requiredOption('--dir <dir>', 'parent folder for the nodes (must be empty or absent)')
    .option('--nodes <n>', 'how many nodes (1 to 26)', toNodeCount, 3)
    .option(
      '--base-port <port>',
      'first port: node i listens on base+2i (libp2p) and base+2i+1 (HTTP)',
      toPort,
      7400,
    )
    .action(async (opts: { dir: string; nodes: number; basePort: number }) => {
      await mkdir(opts.dir, { recursive: true })
      if ((await readdir(opts.dir)).length > 0) {
        throw new EhrlogError(
          'ALREADY_INITIALIZED',
          `${opts.dir} is not empty; refusing to create a network there`,
        )
      }
      const passphrase = passphraseOf(ctx)
      const identities: PublicIdentity[] = []
      // Every node's portal address is known here: each config links to the others' portals.
      const portalOf = (i: number) => `http://127.0.0.1:${opts.basePort + 2 * i + 1}`
      for (let i = 0; i < opts.nodes; i++) {
        const name = localNodeName(i)
        const port = opts.basePort + 2 * i
        const portals = Object.fromEntries(
          Array.from({ length: opts.nodes }, (_, j) => [localNodeName(j), portalOf(j)]).filter(
            ([other]) => other !== name,
          ),
        )
        identities.push(
          await initNodeDir(join(opts.dir, name), {
            name,
            listen: [`/ip4/127.0.0.1/tcp/${port}`],
            httpPort: port + 1,
            portals,
            ...(passphrase ? { passphrase } : {}),
          }),
        )
        ctx.out(`created ${name}: libp2p 127.0.0.1:${port}, HTTP http://127.0.0.1:${port + 1}\n`)
      }
      const indexKey = newIndexKey()
      const membership = await writeMembership(opts.dir, identities, indexKey.publicKey)
      for (const id of identities) {
        await copyFile(join(opts.dir, NETWORK_FILE), join(opts.dir, id.name, NETWORK_FILE))
        await writeIndexKey(join(opts.dir, id.name, NODE_FILES.indexKey), indexKey.secretKey)
      }
      ctx.out(
        `network ${shortNetworkId(membership.networkId)} with ${plural(identities.length, 'member')}: ${join(opts.dir, NETWORK_FILE)}\n`,
      )
      ctx.out(`start each node with: ehrlog node start --dir ${join(opts.dir, localNodeName(0))}\n`)
    })
  network
    .command('assemble')
    .description(
      "build network.json from the members' identity.json files (real hospitals, separate machines)",
    )
    .requiredOption('--out <file>', 'where to write network.json')
    .option(
      '--index-key <file>',
      "the network's index key (secret): reused when the file exists (keep it when re-assembling), else made (default: index.key beside --out)",
    )
    .argument('<identity...>', 'identity.json files, or node folders holding one')
    .action(async (paths: string[], opts: { out: string; indexKey?: string }) => {
      const identities: PublicIdentity[] = []
      for (const p of paths) {
        const identity = await readPublicIdentity(p.endsWith('.json') ? join(p, '..') : p)
        checkDialable(identity, p)
        identities.push(identity)
      }
      const keyPath = opts.indexKey ?? join(dirname(opts.out), NODE_FILES.indexKey)
      const existing = await readIndexKeyFile(keyPath)
      const indexKey = existing ? vrfKeyPair(existing) : newIndexKey()
      const text = membershipText(identities, indexKey.publicKey)
      const membership = Membership.parse(text, opts.out)
      await writeFile(opts.out, text)
      if (!existing) await writeIndexKey(keyPath, indexKey.secretKey)
      ctx.out(
        `wrote ${opts.out}: ${plural(identities.length, 'member')}, network id ${membership.networkId}\n`,
      )
      ctx.out('copy it to every node folder as network.json; every node must have the same file\n')
      ctx.out(
        `${existing ? 'kept' : 'made'} the network's index key ${keyPath}: SECRET, copy it to every node folder as ${NODE_FILES.indexKey} (mode 0600) over a channel you trust\n`,
      )
    })
  registerMembershipCommands(network, ctx)
}

function membershipText(identities: PublicIdentity[], vrfPublicKey: Uint8Array): string {
  return `${JSON.stringify({ members: identities, vrfPublicKey: toHex(vrfPublicKey) }, null, 2)}\n`
}

async function writeMembership(
  dir: string,
  identities: PublicIdentity[],
  vrfPublicKey: Uint8Array,
): Promise<Membership> {
  const text = membershipText(identities, vrfPublicKey)
  const membership = Membership.parse(text) // validates: PoPs, duplicates, addresses
  await writeFile(join(dir, NETWORK_FILE), text)
  return membership
}

function toNodeCount(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 26)
    throw new InvalidArgumentError(`--nodes wants 1 to 26, got ${text}`)
  return n
}
