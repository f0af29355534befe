import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliContext } from '../../client/context.ts'
import { withLocalNode } from '../../client/local-node.ts'
import { main } from '../../client/main.ts'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import { MembershipHistory, type SignedProposal } from '../../node/core/trust/index.ts'
import { changeFileName, MEMBERSHIP_DIR } from '../../node/membership/live-membership.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import { initNetwork } from '../../scripts/in-process-network.ts'
import { cosignAtVersion, keysOfFolders, signChange } from '../helpers/membership-versions.ts'

/*
 * `ehrlog checkpoint --dir` and `proof --dir` on a stopped node folder follow the changes the
 * node applied (DIR/membership/NNNNNN.json, as the node keeps them) from the pinned genesis.
 * Real folders (`ehrlog network init`) and a real LevelDB store; the node cannot apply a change
 * yet (the runtime is being built beside this), so the change file is written here, signed
 * with the folder's Ed25519 key, and the version-1 checkpoint stored in the folder is cosigned
 * with its BLS key.
 */

let root: string
let dir: string
let networkFile: string
let change: SignedProposal

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ehrlog-follow-folder-'))
  dir = (await initNetwork(root, 1)).dirs[0]!
  networkFile = join(root, 'network.json')
  const genesis = MembershipHistory.fromChain(JSON.parse(await readFile(networkFile, 'utf8')), [])
  const keys = await keysOfFolders([dir])
  change = signChange(genesis, { type: 'quorum', quorum: 1 }, [keys.get('hospital-a')!])
  const h1 = genesis.extend(change)
  await mkdir(join(dir, MEMBERSHIP_DIR))
  await writeFile(join(dir, MEMBERSHIP_DIR, changeFileName(1)), JSON.stringify(change))
  const base: CosignedCheckpoint = {
    checkpoint: {
      networkId: fromHex(genesis.networkId, 32)!,
      membership: { version: 0, hash: fromHex(genesis.networkId, 32)! },
      timeMs: Date.now(),
      feeds: [],
    },
    signers: new Uint8Array(1),
    signature: new Uint8Array(96),
  }
  const ctx = { out: () => {}, err: () => {}, env: {} } as unknown as CliContext
  await withLocalNode(ctx, dir, ({ store }) =>
    new CheckpointLog(store).put(cosignAtVersion(base, h1, 1, keys)),
  )
}, 60_000)

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

async function cli(args: string[]) {
  let out = ''
  let err = ''
  const code = await main(args, {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    env: {},
    configDir: join(root, 'config'),
  })
  return { code, out, err }
}

describe('a stopped node folder’s membership changes, followed from the pinned genesis', () => {
  it('verifies the folder’s checkpoint of version 1 and keeps the chain', async () => {
    const r = await cli(['checkpoint', '--dir', dir, '--network', networkFile])
    expect(r.err).toBe('')
    expect(r.out).toMatch(/^verified: cosigned by 1 of 1 node .* \(membership version 1\)$/m)
    const networkId = change.proposal.networkId
    const kept = JSON.parse(
      await readFile(join(root, 'config', 'membership', `${networkId}.json`), 'utf8'),
    ) as { changes: unknown[] }
    expect(kept.changes).toEqual([change])
  })

  it('refuses the folder’s change when it was tampered with, naming it', async () => {
    const file = join(dir, MEMBERSHIP_DIR, changeFileName(1))
    await writeFile(file, JSON.stringify({ ...change, signatures: [] }))
    const r = await cli(['checkpoint', '--dir', dir, '--network', join(root, 'network.json')])
    expect(r.code).toBe(3)
    expect(r.err).toMatch(/^QUORUM_NOT_MET: change 0: the proposer hospital-a did not sign/m)
    await writeFile(file, JSON.stringify(change))
  })
})
