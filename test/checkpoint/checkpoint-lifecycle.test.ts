import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BlsWorker } from '../../node/checkpoint/bls-worker.ts'
import { CheckpointService, decodeCheckpointMessage } from '../../node/checkpoint/index.ts'
import { blsVerify } from '../../node/core/bls.ts'
import {
  type Checkpoint,
  checkpointId,
  checkpointSigningMessage,
  verifyCosignedCheckpoint,
} from '../../node/core/checkpoint.ts'
import { fromHex } from '../../node/core/hex.ts'
import { Membership } from '../../node/core/trust/index.ts'
import { ReferenceIndexView } from '../../node/index/reference-index-view.ts'
import { silentLogger } from '../../node/logger.ts'
import { CheckpointLog, type LogStore } from '../../node/store/index.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_PUBLIC_KEY_HEX,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { makeIdentity } from '../net/harness.ts'

/**
 * Three CheckpointServices on real stores whose control topic is an in-process bus: each
 * published message is handed to the two others, as gossip would. Lets a test stop a node at
 * an exact step of a round.
 */
async function makeTrio(
  root: string,
  roundTimeoutMs?: number,
  /** Scheduled rounds' interval and sync wait per node (default: rounds on demand only). */
  schedule: Array<{ intervalMs: number; syncWaitMs?: number }> = [],
) {
  const made = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => makeIdentity(n)),
  )
  const membership = Membership.fromJson({
    members: made.map((m) => m.identity),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  })
  // Feeds stay empty: a round over empty feeds exercises the same BLS steps.
  const signers = made.map((m) => makeSigner(m.identity.name))
  const stores: LogStore[] = []
  const services: CheckpointService[] = []
  const workers: BlsWorker[] = []
  const published: Array<{ from: number; type: string; afterStop: boolean }> = []
  const stopped = new Set<number>()
  /** Called with each delivery; may stop nodes mid-round. */
  let onDeliver: (to: number, type: string) => void = () => {}
  for (const [i, m] of made.entries()) {
    const store = openStore(join(root, m.identity.name), makeStoreKeys(), signers)
    await store.open()
    stores.push(store)
    const { blsSecretKey } = m
    const worker = new BlsWorker({ secretKey: blsSecretKey }, silentLogger())
    workers.push(worker)
    services.push(
      new CheckpointService({
        self: m.identity.name,
        membership,
        blsSecretKey,
        store,
        index: new ReferenceIndexView(store, TEST_VRF_SECRET_KEY),
        checkpoints: new CheckpointLog(store),
        // As NetService.publishControl once the node's network stopped: the topic is gone.
        publish: async (data) => {
          const { type } = decodeCheckpointMessage(data)
          published.push({ from: i, type, afterStop: stopped.has(i) })
          if (stopped.has(i)) throw new Error('no control topic checkpoints')
          for (const j of [0, 1, 2]) {
            if (j === i || stopped.has(j)) continue
            setImmediate(() => {
              onDeliver(j, type)
              // As the control topic does (node/net/control-topic.ts): a message still being
              // judged when the service stops fails there, and is dropped.
              services[j]!.handle(data, m.identity.name).catch(() => {})
            })
          }
        },
        syncNow: async () => {},
        onIncident: () => {},
        logger: silentLogger(),
        intervalMs: schedule[i]?.intervalMs ?? 0,
        ...(schedule[i]?.syncWaitMs === undefined ? {} : { syncWaitMs: schedule[i]!.syncWaitMs }),
        bls: worker,
        ...(roundTimeoutMs === undefined ? {} : { roundTimeoutMs }),
      }),
    )
  }
  for (const s of services) await s.start()
  return {
    membership,
    stores,
    signers,
    services,
    workers,
    published,
    stopped,
    setOnDeliver: (f: typeof onDeliver) => {
      onDeliver = f
    },
    async close() {
      await Promise.all(services.map((s) => s.stop()))
      await Promise.all(stores.map((s) => s.close()))
    },
  }
}

describe('checkpoint BLS on a worker thread', () => {
  const tempDir = useTempDirs()
  let close: (() => Promise<void>) | undefined
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled)
    await close?.()
    close = undefined
  })

  it('signs what core verifies, and stop() terminates the thread', async () => {
    const trio = await makeTrio(await tempDir())
    close = trio.close
    const worker = trio.workers[0]!
    expect(worker.running).toBe(true)
    const checkpoint: Checkpoint = {
      networkId: fromHex(trio.membership.networkId, 32)!,
      membership: { version: 0, hash: fromHex(trio.membership.networkId, 32)! },
      timeMs: 1,
      feeds: [],
    }
    const signature = await worker.run({ op: 'sign', checkpoint })
    const key = fromHex(trio.membership.members[0]!.blsPublicKey, 48)!
    expect(blsVerify(key, checkpointSigningMessage(checkpoint), signature)).toBe(true)
    const keys = {
      networkId: fromHex(trio.membership.networkId, 32)!,
      membership: checkpoint.membership,
      blsKeys: trio.membership.members.map((x) => fromHex(x.blsPublicKey, 48)!),
      quorum: 2,
    }
    expect(await worker.run({ op: 'verify', keys, signer: 0, checkpoint, signature })).toBe(true)
    expect(await worker.run({ op: 'verify', keys, signer: 1, checkpoint, signature })).toBe(false)

    await trio.services[0]!.stop()
    expect(worker.running).toBe(false)
    await expect(worker.run({ op: 'sign', checkpoint })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    })
    await trio.services[0]!.stop() // idempotent
  })

  it('a round cosigns with a quorum, every BLS step on the workers', async () => {
    const trio = await makeTrio(await tempDir())
    close = trio.close
    const cosigned = await trio.services[0]!.runRound()
    const keys = trio.membership.members.map((m) => fromHex(m.blsPublicKey, 48)!)
    const signers = verifyCosignedCheckpoint(cosigned, {
      networkId: fromHex(trio.membership.networkId, 32)!,
      membership: { version: 0, hash: fromHex(trio.membership.networkId, 32)! },
      blsKeys: keys,
    })
    expect(signers).toContain(0)
    expect(signers.length).toBeGreaterThanOrEqual(2)
  })

  it('a round completing while its node stops publishes nothing, leaves no rejection unhandled', async () => {
    process.on('unhandledRejection', onUnhandled)
    const trio = await makeTrio(await tempDir())
    close = trio.close
    const [a] = trio.services as [CheckpointService]
    let stopping: Promise<void> | undefined
    // The first cosignature reaches a: a quorum, so a aggregates on its worker. a's node
    // stops right then, its network with it.
    trio.setOnDeliver((to, type) => {
      if (to !== 0 || type !== 'cosign' || stopping) return
      setImmediate(() => {
        trio.stopped.add(0)
        stopping = a.stop()
      })
    })
    const round = a.runRound()
    await expect(round).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await stopping
    expect(trio.workers[0]!.running).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 200)) // let any late work surface
    expect(trio.published.filter((p) => p.afterStop)).toEqual([])
    expect(unhandled).toEqual([])
  })

  it('a round whose own signature outlasts its timeout rejects to its caller, never unhandled', async () => {
    // A joining node at 1M entries ended on this: its BLS thread, busy on a loaded machine,
    // signed after the round's timeout had already rejected a promise nobody awaited yet.
    process.on('unhandledRejection', onUnhandled)
    const trio = await makeTrio(await tempDir(), 300)
    close = trio.close
    const worker = trio.workers[0]!
    const run = worker.run.bind(worker)
    // The real thread, its answer held past the timeout (a loaded machine, not reproducible).
    worker.run = (async (job: Parameters<typeof run>[0]) => {
      const answer = await run(job)
      if (job.op === 'sign') await new Promise((resolve) => setTimeout(resolve, 600))
      return answer
    }) as typeof worker.run
    // The caller awaits runRound() from the start, as the scheduler and the HTTP route do.
    const outcome = trio.services[0]!.runRound().then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(await outcome).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/no quorum of 2 in time/),
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(unhandled).toEqual([])
  })

  it('a node behind its latest checkpoint proposes no scheduled round until it caught up', async () => {
    // A joining node adopts the members' checkpoint before it holds the entries: its own
    // rounds would cut its partial replica, which no member can judge (performance.md,
    // "Session 9: joining at 1M entries").
    const trio = await makeTrio(await tempDir(), undefined, [
      { intervalMs: 0 },
      { intervalMs: 0 },
      { intervalMs: 1000, syncWaitMs: 200 },
    ])
    close = trio.close
    const [, b, c] = trio.services as [CheckpointService, CheckpointService, CheckpointService]
    const [storeA, storeB, storeC] = trio.stores as [LogStore, LogStore, LogStore]
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    const proposedByC = () => trio.published.filter((p) => p.from === 2 && p.type === 'propose')
    // c's first scheduled round (no checkpoint yet) cosigns the empty feeds.
    for (let i = 0; i < 100 && !c.latest(); i++) await sleep(100)
    expect(c.latest()).toBeDefined()
    // b's entries reach a, not c; b's round (a and b sign) is adopted by c all the same.
    await storeB.appendEvents(trio.signers[1]!, [makeEvent(1), makeEvent(2), makeEvent(3)])
    const copy = async (to: LogStore) => {
      for (const batch of await storeB.readBatches('hospital-b', 1, 100))
        expect((await to.acceptBatch(batch)).status).toBe('stored')
    }
    await copy(storeA)
    const cosigned = await b.runRound()
    const id = checkpointId(cosigned.checkpoint)
    for (let i = 0; i < 50 && checkpointId(c.latest()!.checkpoint) !== id; i++) await sleep(100)
    expect(checkpointId(c.latest()!.checkpoint)).toBe(id)
    expect(storeC.size('hospital-b')).toBe(0)
    const before = proposedByC().length
    await sleep(4000) // c is due every 3 s
    expect(proposedByC().length).toBe(before)
    // Caught up, and its own feed grown: it proposes again.
    await copy(storeC)
    await storeC.appendEvents(trio.signers[2]!, [makeEvent(4)])
    for (let i = 0; i < 60 && proposedByC().length === before; i++) await sleep(100)
    expect(proposedByC().length).toBeGreaterThan(before)
  }, 60_000)
})
