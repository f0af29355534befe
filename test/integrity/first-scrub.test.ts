import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { blsSign } from '../../node/core/bls.ts'
import {
  aggregateCosignatures,
  type Checkpoint,
  type CosignedCheckpoint,
  checkpointSigningMessage,
} from '../../node/core/checkpoint.ts'
import { EMPTY_ROOT } from '../../node/core/merkle/index.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { IntegrityService, type IntegrityServiceOptions } from '../../node/integrity/index.ts'
import { LogStore } from '../../node/store/index.ts'
import { makeEvent, makeStoreKeys, TEST_VRF_PUBLIC_KEY_HEX } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { makeIdentity } from '../net/harness.ts'

/**
 * The first scrub after a start, with a real store and real cosigned checkpoints; the
 * network's side (peers, sync) is left out: these tests are about what waits for what.
 */
describe('the first scrub after a start', () => {
  const tempDir = useTempDirs()

  async function setUp() {
    const ids = await Promise.all(
      ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => makeIdentity(n)),
    )
    const membership = Membership.fromJson({
      members: ids.map((i) => i.identity),
      vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
    })
    const feedKeys = new Map(ids.map((i) => [i.identity.name, i.feedKey]))
    const dir = await tempDir()
    const keys = makeStoreKeys()
    const open = (path: string) =>
      new LogStore({
        path,
        keys,
        sync: false,
        originKey: (o) => {
          const key = feedKeys.get(o)
          return key && ed25519RawPublicKey(key)
        },
      })
    // hospital-a's own store, 40 entries; hospital-c's replica holds the first 10.
    const a = open(`${dir}/a`)
    await a.open()
    const signer = { origin: 'hospital-a', privateKey: feedKeys.get('hospital-a')! }
    for (let i = 0; i < 4; i++)
      await a.appendEvents(
        signer,
        Array.from({ length: 10 }, (_, j) => makeEvent(i * 10 + j)),
      )
    const batches = await a.readBatches('hospital-a', 1, 100)
    const c = open(`${dir}/c`)
    await c.open()
    await c.acceptBatch(batches[0]!)
    /** A checkpoint cosigned by a and b, with a's feed at `size`. */
    const cosigned = async (size: number, timeMs: number): Promise<CosignedCheckpoint> => {
      const checkpoint: Checkpoint = {
        networkId: new Uint8Array(Buffer.from(membership.networkId, 'hex')),
        membership: { version: 0, hash: new Uint8Array(Buffer.from(membership.networkId, 'hex')) },
        timeMs,
        feeds: membership.members.map((m) => ({
          origin: m.name,
          treeSize: m.name === 'hospital-a' ? size : 0,
          root: EMPTY_ROOT,
          indexRoot: new Uint8Array(32),
        })),
      }
      checkpoint.feeds[0]!.root = await a.rootAt('hospital-a', size)
      const message = checkpointSigningMessage(checkpoint)
      return aggregateCosignatures(
        checkpoint,
        new Map([0, 1].map((i) => [i, blsSign(ids[i]!.blsSecretKey, message)])),
        3,
      )
    }
    return { membership, a, c, batches, cosigned, close: () => Promise.all([a.close(), c.close()]) }
  }

  interface Seen {
    incidents: Array<{ kind: string; entryIds: string[] }>
    verifies: number
  }

  /**
   * An integrity service on c's store, the latest checkpoint `latest` (held for the feeds in
   * `held`; undefined: all), counting c's verifies and collecting incidents in `seen`.
   */
  function service(
    opts: Pick<IntegrityServiceOptions, 'store' | 'membership'> & {
      latest: () => CosignedCheckpoint | undefined
      held?: ReadonlySet<string>
      beforeFirstScrub?: () => Promise<void>
      /** Collects the service's log messages. */
      logs?: string[]
    },
  ): { integrity: IntegrityService; seen: Seen } {
    const seen: Seen = { incidents: [], verifies: 0 }
    const { store } = opts
    const verify = store.verify.bind(store)
    store.verify = (o) => {
      seen.verifies++
      return verify(o)
    }
    const integrity = new IntegrityService({
      self: 'hospital-c',
      store,
      membership: opts.membership,
      latestCheckpoint: opts.latest,
      latestHeld: () => opts.held,
      peers: () => [],
      syncNow: async () => {},
      publishEvidence: async () => {},
      onIncident: (incident) => seen.incidents.push(incident),
      logger: opts.logs
        ? pino({ level: 'info' }, { write: (line: string) => opts.logs!.push(line) })
        : pino({ level: 'silent' }),
      scrubIntervalMs: 0,
      tailWaitMs: 100,
      retryMs: 100,
      beforeFirstScrub: opts.beforeFirstScrub ?? (async () => {}),
    })
    return { integrity, seen }
  }

  it('waits for the catch-up, and a checkpoint gossiped meanwhile does not hold it back', async () => {
    const { membership, c, batches, cosigned, close } = await setUp()
    let latest: CosignedCheckpoint | undefined = await cosigned(10, 1) // what c held at start
    let caughtUp = () => {}
    const catchUp = new Promise<void>((resolve) => {
      caughtUp = resolve
    })
    const { integrity, seen } = service({
      store: c,
      membership,
      latest: () => latest,
      beforeFirstScrub: () => catchUp,
    })
    await integrity.start()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(seen.verifies).toBe(0) // the scrub waits for the catch-up
    // The network cosigned 40 entries of a while c was away: c is behind, not damaged.
    latest = await cosigned(40, 2)
    for (const batch of batches.slice(1)) {
      const stored = await Promise.race([
        integrity.accept(batch, () => c.acceptBatch(batch)),
        new Promise((resolve) => setTimeout(() => resolve('held'), 2_000)),
      ])
      expect(stored).toEqual({ status: 'stored', treeSize: batch.head.treeSize })
    }
    caughtUp()
    const scrub = await integrity.scrubNow()
    expect(seen.verifies).toBeGreaterThanOrEqual(1)
    expect(scrub.report.ok).toBe(true)
    await integrity.stop()
    await close()
  })

  it('scrubs at once when a feed is short of the checkpoint held at start', async () => {
    const { membership, c, cosigned, close } = await setUp()
    const latest = await cosigned(40, 1) // c holds 10: a tail it lost while stopped
    const { integrity, seen } = service({
      store: c,
      membership,
      latest: () => latest,
      beforeFirstScrub: () => new Promise(() => {}), // never: must not be waited for
    })
    const starting = integrity.start()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(seen.verifies).toBeGreaterThanOrEqual(1)
    await integrity.stop()
    await starting.catch(() => {})
    await close()
  })

  it('a replica behind a checkpoint it adopted before the entries came is behind, not truncated', async () => {
    const { membership, c, cosigned, close } = await setUp()
    // c holds 10 entries of a and adopted a checkpoint of 40 while it held 10.
    const latest = await cosigned(40, 1)
    const { integrity, seen } = service({
      store: c,
      membership,
      latest: () => latest,
      held: new Set(),
    })
    const scrub = await integrity.scrubNow()
    expect(scrub.report.problems).toEqual([])
    expect(seen.incidents).toEqual([])
    await integrity.stop()
    await close()
  })

  it('checks the checkpoint at start only if a feed is short of it, else in the first scrub', async () => {
    const { membership, c, cosigned, close } = await setUp()
    const forge = (cp: CosignedCheckpoint): CosignedCheckpoint => ({
      ...cp,
      signature: cp.signature.map((b, i) => (i === 5 ? b ^ 1 : b)),
    })
    const refused = (logs: string[]) => logs.some((l) => l.includes('does not verify'))
    /** A service on c with `checkpoint` held at start, its log lines collected. */
    const withLogs = (checkpoint: CosignedCheckpoint, beforeFirstScrub: () => Promise<void>) => {
      const logs: string[] = []
      const latest = () => checkpoint
      return { logs, ...service({ store: c, membership, latest, beforeFirstScrub, logs }) }
    }
    // c holds the 10 entries the checkpoint covers: nothing to hold back, nothing checked yet.
    let caughtUp = () => {}
    const catchUp = new Promise<void>((resolve) => {
      caughtUp = resolve
    })
    const first = withLogs(forge(await cosigned(10, 1)), () => catchUp)
    await first.integrity.start()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(refused(first.logs)).toBe(false)
    expect(first.seen.verifies).toBe(0)
    caughtUp() // the first scrub checks it, refuses it, and scrubs without it
    const deadline = Date.now() + 5000
    while (first.seen.verifies === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    await first.integrity.stop()
    expect(refused(first.logs)).toBe(true)
    // a's feed short of the (forged) cut: checked at start, refused, so nothing is held.
    const second = withLogs(forge(await cosigned(40, 2)), () => new Promise(() => {}))
    await second.integrity.start()
    expect(refused(second.logs)).toBe(true)
    expect(second.seen.verifies).toBe(0) // not held: the scrub waits for the catch-up
    await second.integrity.stop()
    await close()
  })

  it('the same tail missing below a cut the replica held is reported deleted', async () => {
    const { membership, c, cosigned, close } = await setUp()
    // c held all 40 when it adopted the checkpoint: 30 are gone (rolled back while stopped).
    const latest = await cosigned(40, 1)
    for (const held of [new Set(['hospital-a']), undefined]) {
      const { integrity, seen } = service({ store: c, membership, latest: () => latest, held })
      const scrub = await integrity.scrubNow()
      expect(scrub.report.problems.map((p) => p.kind)).toContain('truncated')
      expect(seen.incidents.map((i) => i.kind)).toEqual(['deleted'])
      expect(seen.incidents[0]!.entryIds).toContain('hospital-a:11')
      expect(seen.incidents[0]!.entryIds).toContain('hospital-a:40')
      await integrity.stop()
    }
    await close()
  })
})
