import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PublicIdentity } from '../core/trust/index.ts'
import { writeFileAtomic } from '../fs/atomic-write.ts'
import { NODE_FILES, PUBLIC_FILE_MODE, SECRET_FILE_MODE } from './files.ts'
import { parsePublicIdentity, readPublicIdentity } from './public-identity.ts'

/*
 * Installing the keys of keys-next.enc as keys.enc and identity.json once every key they hold
 * is the one the membership in force lists for the node (docs/operations.md, "Rotating a
 * key"). keys-next.enc has the format and master secret of keys.enc, so its text is installed
 * as is. Crash-safe by order, each file written whole (write, fsync, rename):
 *   1. identity-install.json: identity.json with the new public keys (what step 3 copies);
 *   2. keys.enc := keys-next.enc;
 *   3. identity.json := identity-install.json, which is then removed;
 *   4. keys-next.enc and identity-next.json removed, only if keys-next.enc is unchanged (a
 *      rotation drawn meanwhile by `ehrlog keys rotate`, which may run beside the node, is kept).
 * A crash between 2 and 3 leaves keys.enc ahead of identity.json: opening the folder finishes
 * the install from identity-install.json when its keys are exactly keys.enc's
 * (finishKeyInstall). A crash after 3 leaves keys-next.enc equal to keys.enc: harmless (a start
 * takes the same keys from both), removed at the next install.
 */

export const NEXT_KEYS_FILE = 'keys-next.enc'
/** identity.json with the next keys: what `ehrlog network propose rotate --identity` reads. */
export const NEXT_IDENTITY_FILE = 'identity-next.json'
/** identity.json as an install of rotated keys writes it (removed once installed). */
export const INSTALLING_IDENTITY_FILE = 'identity-install.json'

/** The public keys keys.enc holds, as identity.json names them. */
export interface HeldKeys {
  ed25519PublicKey: string
  blsPublicKey: string
  peerId: string
}

/**
 * Installs keys-next.enc, whose text is `text` and whose public keys are `next`, as keys.enc and
 * identity.json (the order above). Returns false, changing nothing, when keys-next.enc is no
 * longer `text` (another rotation was drawn meanwhile).
 */
export async function installNextKeys(
  dir: string,
  text: string,
  next: { ed25519PublicKey: string; blsPublicKey: string; peerId: string },
): Promise<boolean> {
  if ((await readText(join(dir, NEXT_KEYS_FILE))) !== text) return false
  const { ed25519PublicKey, blsPublicKey, peerId } = next
  const identity: PublicIdentity = {
    ...(await readPublicIdentity(dir)),
    ed25519PublicKey,
    blsPublicKey,
    peerId,
  }
  const identityText = `${JSON.stringify(identity, null, 2)}\n`
  const installing = join(dir, INSTALLING_IDENTITY_FILE)
  await writeFileAtomic(installing, identityText, { mode: PUBLIC_FILE_MODE })
  await writeFileAtomic(join(dir, NODE_FILES.keys), text, { mode: SECRET_FILE_MODE })
  await writeFileAtomic(join(dir, NODE_FILES.identity), identityText, { mode: PUBLIC_FILE_MODE })
  await rm(installing, { force: true })
  if ((await readText(join(dir, NEXT_KEYS_FILE))) === text) {
    await rm(join(dir, NEXT_KEYS_FILE), { force: true })
    await rm(join(dir, NEXT_IDENTITY_FILE), { force: true })
  }
  return true
}

/**
 * identity.json does not match keys.enc: when identity-install.json names exactly the keys
 * keys.enc holds, an install stopped between its steps 2 and 3; finishes it and returns the
 * identity. Undefined otherwise (the mismatch is the caller's to report).
 */
export async function finishKeyInstall(
  dir: string,
  held: HeldKeys,
): Promise<PublicIdentity | undefined> {
  const text = await readText(join(dir, INSTALLING_IDENTITY_FILE))
  if (text === undefined) return undefined
  let identity: PublicIdentity
  try {
    identity = parsePublicIdentity(JSON.parse(text), INSTALLING_IDENTITY_FILE)
  } catch {
    return undefined
  }
  if (
    identity.ed25519PublicKey !== held.ed25519PublicKey ||
    identity.blsPublicKey !== held.blsPublicKey ||
    identity.peerId !== held.peerId
  )
    return undefined
  await writeFileAtomic(join(dir, NODE_FILES.identity), text, { mode: PUBLIC_FILE_MODE })
  await rm(join(dir, INSTALLING_IDENTITY_FILE), { force: true })
  return identity
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
