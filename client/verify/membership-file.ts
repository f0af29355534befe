import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../../node/core/errors.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { NETWORK_FILE } from '../../node/identity/index.ts'
import type { CliContext } from '../context.ts'
import { ClientProvenKeys } from './proven-bls-keys.ts'

/**
 * The client's trust anchor: its own copy of network.json (--network FILE, or the node
 * folder's). Nothing a node sends is believed unless it verifies against these keys.
 */
export async function loadMembership(opts: {
  network?: string
  dir?: string
  /** The user's config folder: remember verified BLS proofs of possession there (proven-bls-keys.ts). */
  configDir?: string
}): Promise<Membership> {
  const path = opts.network ?? (opts.dir ? join(opts.dir, NETWORK_FILE) : undefined)
  if (!path) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'give --network FILE (your copy of network.json): answers are verified against it, not trusted',
      {
        details: { field: 'network' },
      },
    )
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    })
  }
  const proven = opts.configDir ? await ClientProvenKeys.load(opts.configDir) : undefined
  if (!proven) return Membership.parse(text, path)
  const membership = Membership.parse(text, path, { proven: proven.has })
  // Parsing threw unless every member's proof verified (now or before).
  await proven.remember(membership.members)
  return membership
}

/** --network, else the --dir one, else network.json in the config folder (next to the session). */
export async function networkFileOf(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
): Promise<string | undefined> {
  if (opts.network) return opts.network
  if (opts.dir) return join(opts.dir, NETWORK_FILE)
  const saved = ctx.configDir && join(ctx.configDir, NETWORK_FILE)
  if (!saved) return undefined
  return access(saved).then(
    () => saved,
    () => undefined,
  )
}

/** The membership of networkFileOf: what the query commands verify answers against. */
export async function membershipOf(
  ctx: CliContext,
  opts: { network?: string; dir?: string },
): Promise<Membership> {
  const network = await networkFileOf(ctx, opts)
  return loadMembership(
    network === undefined
      ? {}
      : { network, ...(ctx.configDir ? { configDir: ctx.configDir } : {}) },
  )
}
