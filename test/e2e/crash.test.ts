import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { type Member, useLocalNetworks } from './harness.ts'
import { eventRange, feedSizes, postEvents, waitFor, waitForSizes } from './node-api.ts'
import { expectIdenticalVerifiedReplicas } from './replicas.ts'

const EVENTS_PER_REQUEST = 20
const CLIENTS = 4
/** Longest a client keeps retrying one request before the test fails. */
const RETRY_DEADLINE_MS = 45_000

interface SentRequest {
  key: string
  events: AuditEvent[]
  ids?: string[]
  /** Answered 200 duplicate: a retry of a request whose first attempt was stored. */
  duplicate?: boolean
  /** Attempts that got no answer (connection refused or reset). */
  failedAttempts: number
}

/**
 * An EHR that sends batches with unique Idempotency-Keys from a few concurrent clients, and
 * retries a request that got no answer with the same key and body until it gets one.
 */
class Ehr {
  readonly requests: SentRequest[] = []
  /** The first unexpected answer a client got; it stops sending then. */
  error: unknown
  #next = 0
  #sending = true
  #clients: Promise<void>[] = []

  constructor(private readonly target: Member) {}

  start(): void {
    this.#clients = Array.from({ length: CLIENTS }, () => this.#client())
  }

  answered(): SentRequest[] {
    return this.requests.filter((r) => r.ids !== undefined)
  }

  /** Stops taking new requests; resolves once every request sent has been answered. */
  async finish(): Promise<void> {
    this.#sending = false
    await Promise.all(this.#clients)
    if (this.error) throw this.error
  }

  async #client(): Promise<void> {
    try {
      await this.#send()
    } catch (err) {
      this.error ??= err
      this.#sending = false
    }
  }

  async #send(): Promise<void> {
    while (this.#sending) {
      const n = this.#next++
      const request: SentRequest = {
        key: `crash-test-${n}`,
        events: eventRange(n * EVENTS_PER_REQUEST, EVENTS_PER_REQUEST),
        failedAttempts: 0,
      }
      this.requests.push(request)
      await this.#sendUntilAnswered(request)
    }
  }

  async #sendUntilAnswered(request: SentRequest): Promise<void> {
    const deadline = Date.now() + RETRY_DEADLINE_MS
    for (;;) {
      let res: Response
      let body: { ids: string[]; duplicate?: boolean }
      try {
        res = await postEvents(this.target, request.events, { key: request.key })
        body = await res.json() // an answer cut off by the crash is no answer
      } catch (err) {
        request.failedAttempts++
        if (Date.now() > deadline)
          throw new Error(`request ${request.key} got no answer in ${RETRY_DEADLINE_MS} ms`, {
            cause: err,
          })
        await sleep(50)
        continue
      }
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`request ${request.key}: HTTP ${res.status} ${JSON.stringify(body)}`)
      expect(body.ids, `ids of ${request.key}`).toHaveLength(EVENTS_PER_REQUEST)
      expect(body.duplicate === true, `${request.key}: 200 iff duplicate`).toBe(res.status === 200)
      request.ids = body.ids
      request.duplicate = res.status === 200
      return
    }
  }
}

describe('a node killed during ingest', () => {
  const createNetwork = useLocalNetworks()

  it('loses no answered event and stores no retried one twice', async () => {
    const net = await createNetwork({ nodes: 3, fileIndex: 2, args: ['--sync-interval', '1000'] })
    await Promise.all(net.members.map((m) => net.start(m.name)))
    const a = net.member('hospital-a')

    const ehr = new Ehr(a)
    ehr.start()
    const ingesting = await waitFor(
      'the first answers from hospital-a',
      async () => ({ done: ehr.answered().length > 0, value: Date.now() }),
      10_000,
      10,
    )
    // Steady ingest for ~1.5 s, then a crash: no SIGTERM, nothing flushed or cleaned up.
    await sleep(Math.max(0, ingesting + 1_500 - Date.now()))
    const answeredBeforeKill = ehr.answered()
    const unansweredAtKill = ehr.requests.length - answeredBeforeKill.length
    await net.kill('hospital-a')
    console.log(
      `killed hospital-a after ${answeredBeforeKill.length} answered requests, ${unansweredAtKill} unanswered`,
    )

    // The clients now retry against a closed port until the node is back.
    await waitFor(
      'clients to retry against the dead node',
      async () => {
        const failed = ehr.requests.reduce((n, r) => n + r.failedAttempts, 0)
        return { done: failed >= CLIENTS, value: failed }
      },
      10_000,
      10,
    )
    await net.start('hospital-a')
    const answeredAtRestart = ehr.answered().length
    await waitFor(
      'more requests answered after the restart',
      async () => {
        const after = ehr.answered().length - answeredAtRestart
        return { done: after >= 20, value: { after, clientError: String(ehr.error) } }
      },
      20_000,
    )
    await ehr.finish()

    // An answer lost on the way back looks the same to the EHR: resending a request answered
    // before the crash must find its receipt on disk and return the first ids, storing nothing.
    const resent = answeredBeforeKill[0]!
    const again = await postEvents(a, resent.events, { key: resent.key })
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ ids: resent.ids, duplicate: true })

    const answered = ehr.answered()
    expect(answered).toHaveLength(ehr.requests.length)
    const retried = answered.filter((r) => r.failedAttempts > 0)
    expect(retried.length, 'requests retried across the crash').toBeGreaterThan(0)
    console.log(
      `${answered.length} requests answered, ${retried.length} retried across the crash, ${answered.filter((r) => r.duplicate).length} of them answered as duplicates`,
    )

    // Every answered event exactly once: ids are distinct, and the feed holds nothing more.
    const allIds = answered.flatMap((r) => r.ids!)
    const total = answered.length * EVENTS_PER_REQUEST
    expect(new Set(allIds).size, 'distinct ids over all answers').toBe(total)
    const expected = new Map([['hospital-a', total]])
    await waitForSizes(net.members, expected, 15_000)
    expect((await feedSizes(a)).get('hospital-a')).toBe(total)

    await net.stopAll()
    const replica = await expectIdenticalVerifiedReplicas(net.members)
    expect(replica).toHaveLength(total)
    const byId = new Map(replica.map((e) => [e.id, e.body]))
    for (const r of answeredBeforeKill)
      for (const id of r.ids!) expect(byId.has(id), `${id} answered before the kill`).toBe(true)
    // Each answer's ids hold that request's own events, in order.
    for (const r of answered) expect(r.ids!.map((id) => byId.get(id))).toEqual(r.events)
  }, 120_000)
})
