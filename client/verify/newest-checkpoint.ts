import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type CosignedCheckpoint,
  cosignedFromJson,
  cosignedToJson,
  verifyCosignedCheckpoint,
} from '../../node/core/checkpoint.ts'
import type { MembershipHistory } from '../../node/core/trust/index.ts'
import { checkpointKeysOf } from '../../node/core/trust/network-keys.ts'
import type { CliContext } from '../context.ts'
import { configDirOf } from '../session-store.ts'

/*
 * The newest cosigned checkpoint this user has verified, per network, kept in the config
 * folder (CONFIG/checkpoints/<network id>.json): a node that later presents an older one as
 * its latest is refused (checkNotOlder), since that would hide everything recorded since.
 * The file is read back as untrusted input: verified again under the network's keys.
 */

function pathOf(ctx: CliContext, networkId: string): string {
  return join(configDirOf(ctx), 'checkpoints', `${networkId}.json`)
}

/**
 * The kept checkpoint, or undefined when there is none or it no longer verifies (under the
 * keys of the membership version it names, from `history`).
 */
export async function readNewestCheckpoint(
  ctx: CliContext,
  history: MembershipHistory,
): Promise<CosignedCheckpoint | undefined> {
  let text: string
  try {
    text = await readFile(pathOf(ctx, history.networkId), 'utf8')
  } catch {
    return undefined
  }
  try {
    const kept = cosignedFromJson(JSON.parse(text))
    verifyCosignedCheckpoint(kept, checkpointKeysOf(history.keysFor(kept.checkpoint.membership)))
    return kept
  } catch {
    // A damaged or foreign file protects nothing: it is replaced by the next verified one.
    return undefined
  }
}

/** Keeps `c` when it is newer than the kept one (the caller verified it). Written whole. */
export async function keepNewestCheckpoint(
  ctx: CliContext,
  keys: { networkId: string },
  c: CosignedCheckpoint,
  known: CosignedCheckpoint | undefined,
): Promise<void> {
  if (known && known.checkpoint.timeMs >= c.checkpoint.timeMs) return
  const path = pathOf(ctx, keys.networkId)
  await mkdir(join(configDirOf(ctx), 'checkpoints'), { recursive: true, mode: 0o700 })
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  await writeFile(temp, `${JSON.stringify(cosignedToJson(c), null, 2)}\n`, { mode: 0o600 })
  await rename(temp, path)
}
