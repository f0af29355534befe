import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openNodeDir } from '../../node/identity/index.ts'
import { parseMail, startSmtpServer, type TestSmtpServer } from '../alerts/smtp-harness.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import { type LocalNetwork, type Member, useLocalNetworks } from './harness.ts'
import { appendOffline, expectFeedRefusedAndAlerted, feedHeldBy } from './membership-rotation.ts'
import {
  adminCli,
  adminOk,
  ChainWatch,
  initJoiningHospital,
  logIn,
  mailboxOf,
  membershipOf,
  newKey,
  prepareFolder,
  propose,
  SteadyIngest,
  sign,
} from './membership-world.ts'
import { feedSizes, postEvents, waitFor } from './node-api.ts'
import { expectIdenticalVerifiedReplicas } from './replicas.ts'

/*
 * The issue's must-show, on real node processes on 127.0.0.1: a 3-node network under steady
 * ingest (SteadyIngest: one event to each ingesting node every 200 ms, each acknowledgement
 * recorded) (a) adds a fourth hospital, which joins with the genesis network.json, catches up
 * every feed and cosigns a checkpoint of version 1; (b) removes a member; (c) rotates a
 * member's Ed25519 and BLS keys on the running node, no restart (the Ed25519 cut is the
 * member's own marker entry: no acknowledged event of its is refused); a lost-key rotation
 * recovers the same way. Every change is proposed and signed by the hospitals' admins
 * through `ehrlog network propose | sign --node URL`, never by a node on its own. Then:
 * every acknowledged event is on every remaining node, byte-identical and verified; an export
 * bundle and a checkpoint from before the changes still verify; (d) a tree head signed by the
 * rotated-out Ed25519 key is refused by the others and alerted. One SMTP server (smtp-server)
 * receives every node's alert emails: only the expected ones may arrive.
 *
 * The steps run in order and share one network (each `it` is one step of the story).
 */

/** Alert kinds that would be unfounded anywhere in this story (a healthy network changing). */
const UNFOUNDED = new Set([
  'membership:membership-equivocation',
  'membership:lost-key-rotation',
  'membership:alert',
  'modified',
  'deleted',
  'diverged',
  'index-diverged',
  'equivocation',
  'invalid-checkpoint',
  'quorum-degraded',
  'quorum-recovered',
])
/**
 * The alert for a signature by a key rotated out: the integrity incident on a tree head
 * (rotated-out-key), or the governance alert on a proposal's signature.
 */
const ROTATED_KEY = /^(rotated-out-key|membership:rotated-key-signature)$/

interface Mail {
  kind: string
  to: string[]
  subject: string
  text: string
}

describe('a network that changes under steady ingest (real processes)', () => {
  const createNetwork = useLocalNetworks({ scope: 'file' })
  let smtp: TestSmtpServer
  let net: LocalNetwork
  let a: Member
  let b: Member
  let c: Member
  let d: Member
  let ingest: SteadyIngest
  let ingesting: Member[] = []
  let genesis: string
  /** The genesis network.json, parsed: what every node's chain is verified from. */
  let genesisJson: unknown
  let chain: ChainWatch
  let root: string
  /** hospital-b's Ed25519 tree-head key before its rotation (a stolen copy, at the end). */
  let oldSigningKey: import('node:crypto').KeyObject
  /** Step timings, printed at the end (the benchmark measures them properly). */
  const timings: string[] = []

  const mails = (): Mail[] =>
    smtp.received.map((r) => {
      const parsed = parseMail(r.raw)
      return {
        // Alerts name their kind; membership notices their step (membership:proposed, …).
        kind:
          parsed.headers.get('x-ehrlog-kind') ??
          `membership:${parsed.headers.get('x-ehrlog-membership') ?? '(none)'}`,
        to: r.rcptTo,
        subject: parsed.subject,
        text: parsed.text,
      }
    })
  const expectNoUnfoundedAlert = (where: string) => {
    const bad = mails().filter((m) => UNFOUNDED.has(m.kind) || ROTATED_KEY.test(m.kind))
    expect(
      bad.map((m) => `${m.to.join(',')}: [${m.kind}] ${m.subject}`),
      `unfounded alerts ${where}`,
    ).toEqual([])
  }
  /**
   * The steps tell one story: a step runs only if the steps it needs passed (else it is
   * skipped, not failed). The final check needs the add and the removal, not the rotations:
   * if those fail before changing anything, what was acknowledged is still checked.
   */
  const passed = new Set<string>()
  const step = (
    label: string,
    needs: string[],
    name: string,
    body: () => Promise<void>,
    timeoutMs: number,
  ) =>
    it(
      name,
      async (ctx) => {
        if (!needs.every((n) => passed.has(n))) ctx.skip()
        await body()
        passed.add(label)
      },
      timeoutMs,
    )
  const cli = (m: Member, args: string[]) => adminCli(root, m, args)
  const ok = (m: Member, args: string[]) => adminOk(root, m, args)

  beforeAll(async () => {
    smtp = await startSmtpServer()
    net = await createNetwork({ nodes: 3, fileIndex: 7, args: ['--sync-interval', '1000'] })
    root = net.root
    genesis = join(root, 'net', 'network.json')
    genesisJson = JSON.parse(await readFile(genesis, 'utf8'))
    chain = new ChainWatch(root, genesis, genesisJson)
    ;[a, b, c] = net.members as [Member, Member, Member]
    for (const m of [a, b, c]) await prepareFolder(root, m, smtp.port)
    await Promise.all([a, b, c].map((m) => net.start(m.name)))
    for (const m of [a, b, c]) await logIn(root, m)
    ingesting = [a, b, c]
    ingest = new SteadyIngest(() => ingesting)
  }, 120_000)

  afterAll(async () => {
    await ingest?.stop()
    await smtp?.close()
  })

  let oldBundle: string
  let oldCheckpoint: string

  step(
    'v0',
    [],
    'before any change: a cosigned checkpoint of version 0, kept, and a bundle exported',
    async () => {
      await waitFor(
        'some events acknowledged',
        async () => ({ done: ingest.acked.length >= 30, value: ingest.acked.length }),
        30_000,
      )
      await chain.cosignedBy(a, 0, 'hospital-a', (feeds) => (feeds.get('hospital-a') ?? 0) > 0)
      oldCheckpoint = join(root, 'checkpoint-v0.json')
      await writeFile(
        oldCheckpoint,
        await ok(a, ['checkpoint', '--node', a.http, '--network', genesis, '--json']),
      )
      oldBundle = join(root, 'before.bundle.json')
      await ok(a, ['export', '--network', genesis, '--patient', 'patient-1', '--out', oldBundle])
      const check = await cli(a, ['verify-bundle', oldBundle])
      expect(check.code, check.out + check.err).toBe(0)
      expectNoUnfoundedAlert('before any change')
    },
    120_000,
  )

  step(
    'add',
    ['v0'],
    '(a) adds hospital-d: proposed and signed by admins, applied everywhere at a cut; d joins with the genesis, catches up every feed and cosigns version 1',
    async () => {
      d = await initJoiningHospital(net, 'hospital-d', smtp.port)
      const id = await propose(root, a, ['add', join(d.dir, 'identity.json')])
      // One signature of 3 is not a quorum: nothing changes.
      expect((await membershipOf(b, genesisJson)).version).toBe(0)
      await sign(root, b, id)
      timings.push(
        `add: last signature -> a, b, c applied: ${await chain.applied([a, b, c], 1, ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'])} ms`,
      )

      const target = await feedSizes(a)
      const t0 = Date.now()
      await net.start('hospital-d')
      await chain.applied([d], 1, ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'])
      // Its sessions are signed with its key as a member: once admitted.
      await logIn(root, d)
      await waitFor(
        'hospital-d to hold every feed as hospital-a did when it started',
        async () => {
          const held = await feedSizes(d)
          const done = [...target].every(([origin, size]) => (held.get(origin) ?? 0) >= size)
          return { done, value: held }
        },
        120_000,
      )
      timings.push(`join: hospital-d started -> holds every feed: ${Date.now() - t0} ms`)
      ingesting = [a, b, c, d]
      await chain.cosignedBy(a, 1, 'hospital-d')
      await chain.cosignedBy(d, 1, 'hospital-d')
      // Every member was told, by email to its admins, of the change (recorded as an entry).
      for (const m of [a, b, c])
        expect(
          mails().filter((x) => x.to.includes(mailboxOf(m)) && !UNFOUNDED.has(x.kind)).length,
          `emails to ${m.name}'s admins`,
        ).toBeGreaterThan(0)
      expectNoUnfoundedAlert('after adding hospital-d')
    },
    300_000,
  )

  step(
    'remove',
    ['add'],
    '(b) removes hospital-c after its feed is cosigned whole: frozen there, nothing it acknowledged lost',
    async () => {
      // The leaving hospital stops taking events, and waits until a checkpoint covers its feed.
      ingesting = [a, b, d]
      await new Promise((r) => setTimeout(r, 500)) // the posts already in flight
      const cSize = (await feedSizes(c)).get('hospital-c')!
      expect(cSize).toBeGreaterThanOrEqual(ingest.highestSeq('hospital-c'))
      await chain.cosignedBy(a, 1, 'hospital-a', (feeds) => feeds.get('hospital-c') === cSize)

      const id = await propose(root, a, ['remove', 'hospital-c'])
      await sign(root, b, id)
      await sign(root, d, id) // 3 of 4
      timings.push(
        `remove: last signature -> a, b, d applied: ${await chain.applied([a, b, d], 2, ['hospital-a', 'hospital-b', 'hospital-d'])} ms`,
      )
      // Its feed is frozen at its last cosigned size: every event it acknowledged, and the
      // membership records it wrote (the proposal, signatures) before its last checkpoint.
      const frozen = (await feedSizes(a)).get('hospital-c')!
      expect(frozen).toBeGreaterThanOrEqual(cSize)
      await net.stop('hospital-c')
      await chain.cosignedBy(a, 2, 'hospital-a')
      await new Promise((r) => setTimeout(r, 3_000)) // a few sync rounds
      for (const m of [a, b, d])
        expect((await feedSizes(m)).get('hospital-c'), `hospital-c's feed at ${m.name}`).toBe(
          frozen,
        )
      const cp = await chain.checkpointAt(a)
      expect(cp.signers).not.toContain('hospital-c')
      expectNoUnfoundedAlert('after removing hospital-c')
    },
    300_000,
  )

  step(
    'rotate',
    ['remove'],
    "(c) rotates hospital-b's Ed25519 and BLS keys; b keeps taking events and cosigns with the new key",
    async () => {
      oldSigningKey = (await openNodeDir(b.dir)).signingKey
      // No restart: b's admin draws the new key beside the running node, which reads it when
      // the change is applied, appends its marker with the old key and signs on with the new
      // one (docs/operations.md, "Rotating a key").
      const ed = await newKey(root, b, 'ed25519')
      const idEd = await propose(root, b, [
        'rotate',
        'hospital-b',
        '--key',
        'ed25519',
        '--identity',
        ed,
      ])
      await sign(root, a, idEd) // 2 of 3
      timings.push(
        `rotate ed25519: last signature -> a, b, d applied: ${await chain.applied([a, b, d], 3, ['hospital-a', 'hospital-b', 'hospital-d'])} ms`,
      )
      // Its sessions were signed with the rotated-out key: its admin logs in again.
      await logIn(root, b)
      const bls = await newKey(root, b, 'bls')
      const idBls = await propose(root, b, [
        'rotate',
        'hospital-b',
        '--key',
        'bls',
        '--identity',
        bls,
      ])
      await sign(root, d, idBls)
      timings.push(
        `rotate bls: last signature -> a, b, d applied: ${await chain.applied([a, b, d], 4, ['hospital-a', 'hospital-b', 'hospital-d'])} ms`,
      )
      // hospital-b signs new tree heads with its new key and cosigns with its new BLS key.
      const bAfter = ingest.highestSeq('hospital-b')
      await chain.cosignedBy(a, 4, 'hospital-b', (feeds) => (feeds.get('hospital-b') ?? 0) > bAfter)
      expectNoUnfoundedAlert('after the rotations')
    },
    300_000,
  )

  step(
    'check',
    ['remove'],
    'every acknowledged event is on every remaining node, verified; old bundles and checkpoints still verify',
    async () => {
      await ingest.stop()
      const sinceOld = () =>
        cli(a, ['checkpoint', '--node', d.http, '--network', genesis, '--since', oldCheckpoint])
      // The bundle from before the changes, alone and against the pinned genesis.
      for (const args of [[oldBundle], [oldBundle, '--network', genesis]]) {
        const r = await cli(a, ['verify-bundle', ...args])
        expect(r.code, `verify-bundle ${args.join(' ')}: ${r.out}${r.err}`).toBe(0)
      }

      const remaining = [a, b, d]
      await waitFor(
        'the remaining nodes to hold every acknowledged event',
        async () => {
          const sizes = await Promise.all(remaining.map((m) => feedSizes(m)))
          const done = sizes.every((s) =>
            ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].every(
              (o) => (s.get(o) ?? 0) >= ingest.highestSeq(o),
            ),
          )
          return { done, value: sizes }
        },
        60_000,
      )
      const since = await sinceOld()
      for (const m of remaining) await net.stop(m.name)
      const replica = await expectIdenticalVerifiedReplicas(remaining)
      const byNote = new Map(replica.map((e) => [e.body.notes, e.id]))
      const lost = ingest.acked.filter(
        (x) => !byNote.has(x.note) || (x.id !== undefined && byNote.get(x.note) !== x.id),
      )
      expect(lost, `acknowledged events missing (of ${ingest.acked.length})`).toEqual([])
      // The steady ingest's events (query records repeat notes, membership records have none).
      const sent = new Set(ingest.acked.map((x) => x.note))
      const notes = replica.map((e) => e.body.notes).filter((n) => n !== undefined && sent.has(n))
      expect(
        notes.filter((n, i) => notes.indexOf(n) !== i),
        'no event twice',
      ).toEqual([])
      console.log(
        `${ingest.acked.length} events acknowledged, ${ingest.refused} refused or unanswered while changing; ${timings.join('; ')}`,
      )
      expectNoUnfoundedAlert('at the end of the changes')
      // The checkpoint kept at version 0: the latest extends it, feed by feed.
      expect(since.code, since.out + since.err).toBe(0)
    },
    300_000,
  )

  step(
    'new-bundle',
    ['check'],
    "an answer exported after the changes (the removed member's entries in it) verifies from the pinned genesis",
    async () => {
      await Promise.all([a, b, d].filter((m) => !m.process).map((m) => net.start(m.name)))
      await logIn(root, d)
      const newBundle = join(root, 'after.bundle.json')
      const exported = await cli(d, [
        'export',
        '--network',
        genesis,
        '--patient',
        'patient-1',
        '--out',
        newBundle,
      ])
      expect(exported.code, exported.out + exported.err).toBe(0)
      const fresh = await cli(a, ['verify-bundle', newBundle, '--network', genesis])
      expect(fresh.code, fresh.out + fresh.err).toBe(0)
    },
    120_000,
  )

  step(
    'lost',
    ['rotate', 'check'],
    "a lost-key rotation: hospital-b's Ed25519 key is declared lost and replaced by a quorum alone with a key its admin draws beside the running node; every admin is alerted, b holds its feed until the cut and signs on with the new key, no restart",
    async () => {
      await Promise.all([a, b, d].filter((m) => !m.process).map((m) => net.start(m.name)))
      for (const m of [a, b, d]) await logIn(root, m)
      const before = await membershipOf(a, genesisJson)
      // b's feed replicated whole first: what its old key signed is below the cut.
      await feedHeldBy([a, d], b)
      // The admin draws the new key into keys-next.enc; the old one counts as lost: the quorum
      // (a and d) alone signs, no signature by the old key.
      const file = await newKey(root, b, 'ed25519')
      const id = await propose(root, a, [
        'rotate',
        'hospital-b',
        '--key',
        'ed25519',
        '--identity',
        file,
        '--old-key-lost',
      ])
      await sign(root, d, id)
      const t0 = Date.now()
      await chain.applied([a, b, d], before.version + 1, before.members)
      // The cut: the first checkpoint of the new version; b's size there is its last under
      // the old key. b then signs with the new key: an event it acknowledges reaches a and d.
      await chain.cosignedBy(a, before.version + 1, 'hospital-a')
      const cut = (await chain.checkpointAt(a)).feeds.find(
        (f) => f.origin === 'hospital-b',
      )!.treeSize
      let acked = 0
      await waitFor(
        'hospital-b to acknowledge an event under its new key',
        async () => {
          const res = await postEvents(b, [makeEvent(8_888_888)], { key: 'lost-key-event' })
          await res.body?.cancel()
          acked = res.status
          return { done: res.status === 201 || res.status === 202, value: res.status }
        },
        60_000,
        500,
      )
      timings.push(`lost-key rotation: last signature -> b signs on: ${Date.now() - t0} ms`)
      expect([201, 202]).toContain(acked)
      await waitFor(
        "a and d to take hospital-b's new-key entries past the cut",
        async () => {
          const held = await Promise.all(
            [a, d].map(async (m) => (await feedSizes(m)).get('hospital-b') ?? 0),
          )
          return { done: held.every((h) => h > cut), value: { cut, held } }
        },
        60_000,
      )
      // The lost-key rotation itself is announced to every member's admins; nothing else.
      for (const m of [a, b, d])
        expect(
          mails().some(
            (x) => x.to.includes(mailboxOf(m)) && x.kind === 'membership:lost-key-rotation',
          ),
          `the lost-key alert to ${m.name}'s admins`,
        ).toBe(true)
      const unfounded = mails().filter(
        (m) =>
          m.kind !== 'membership:lost-key-rotation' &&
          (UNFOUNDED.has(m.kind) || ROTATED_KEY.test(m.kind)),
      )
      expect(unfounded.map((m) => `${m.to.join(',')}: [${m.kind}] ${m.subject}`)).toEqual([])
    },
    240_000,
  )

  step(
    'stolen',
    ['rotate', 'check'],
    "(d) a tree head signed by hospital-b's rotated-out key is refused by the others and alerted",
    async () => {
      // After the lost-key rotation (when it ran): its alerts are expected, none other.
      // Someone holding the old key (stolen, or a forgotten copy of the folder) signs a new
      // entry into hospital-b's feed while b is stopped; b then serves it to the others.
      if (b.process) await net.stop('hospital-b')
      const bSize = await appendOffline(b, oldSigningKey, makeEvent(9_999_999))
      for (const m of [a, d, b]) if (!m.process) await net.start(m.name)
      await expectRefusedAndAlerted(bSize - 1)
      // Nothing else was alerted by the members that hold an untouched replica.
      const others = mails().filter(
        (x) =>
          (x.to.includes(mailboxOf(a)) || x.to.includes(mailboxOf(d))) &&
          UNFOUNDED.has(x.kind) &&
          x.kind !== 'membership:lost-key-rotation',
      )
      expect(others.map((x) => `${x.kind}: ${x.subject}`)).toEqual([])
    },
    180_000,
  )

  /** hospital-b's feed stays at `size` at a and d, whose admins get the rotated-out-key alert. */
  const expectRefusedAndAlerted = (size: number) =>
    expectFeedRefusedAndAlerted([a, d], 'hospital-b', size, (m) =>
      mails().some((x) => x.to.includes(mailboxOf(m)) && ROTATED_KEY.test(x.kind)),
    )
})
