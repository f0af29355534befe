import { beforeAll, describe, expect, it } from 'vitest'
import { type Member, useLocalNetworks } from './harness.ts'
import { appendEvents, eventRange, feedSizes, postEvents } from './node-api.ts'

interface ErrorBody {
  error: { code: string; message: string; details: { field?: string } }
}

/** The answer's status and JSON error body. */
async function refusal(res: Response): Promise<{ status: number; body: ErrorBody }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return { status: res.status, body: (await res.json()) as ErrorBody }
}

describe('bad input to a running node process', () => {
  const createNetwork = useLocalNetworks({ scope: 'file' })
  let node: Member
  let before: Map<string, number>

  beforeAll(async () => {
    const net = await createNetwork({ nodes: 1, fileIndex: 3 })
    node = await net.start('hospital-a')
    // One entry first, so that "nothing stored" is size 1 and not a feed that never existed.
    await appendEvents(node, eventRange(0, 1))
    before = await feedSizes(node)
    expect(before).toEqual(new Map([['hospital-a', 1]]))
  })

  /** Runs a refused request and checks that the node stored nothing. */
  async function expectRefused(send: () => Promise<Response>) {
    const answer = await refusal(await send())
    expect(await feedSizes(node)).toEqual(before)
    return answer
  }

  it('refuses invalid JSON with 400 ARGUMENT_INVALID naming the body', async () => {
    const { status, body } = await expectRefused(() =>
      postEvents(node, undefined, { raw: '{"patientId": "p-1", ' }),
    )
    expect(status).toBe(400)
    expect(body.error.code).toBe('ARGUMENT_INVALID')
    expect(body.error.details.field).toBe('body')
    expect(body.error.message).toMatch(/^request body is not valid JSON: /)
  })

  it('refuses an event without its action with 400 EVENT_INVALID naming the field', async () => {
    const { action: _dropped, ...withoutAction } = eventRange(1, 1)[0]!
    const { status, body } = await expectRefused(() => postEvents(node, withoutAction))
    expect(status).toBe(400)
    expect(body.error.code).toBe('EVENT_INVALID')
    expect(body.error.details.field).toBe('event.action')
    expect(body.error.message).toMatch(/action/)
  })

  it('stores none of a batch with one bad event', async () => {
    const batch = eventRange(1, 3)
    const { time: _dropped, ...withoutTime } = batch[2]!
    const { status, body } = await expectRefused(() =>
      postEvents(node, [batch[0], batch[1], withoutTime]),
    )
    expect(status).toBe(400)
    expect(body.error.code).toBe('EVENT_INVALID')
    expect(body.error.details.field).toBe('events[2].time')
  })

  it('refuses a wrong token with 401 UNAUTHORIZED, valid body or not', async () => {
    const res = await postEvents(node, eventRange(1, 1), { token: 'x'.repeat(43) })
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /)
    const { status, body } = await expectRefused(async () => res)
    expect(status).toBe(401)
    expect(body.error.code).toBe('UNAUTHORIZED')
    expect(body.error.details.field).toBe('Authorization')
    expect(body.error.message).toBe('wrong API token')
  })

  it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
    // Well-formed events (notes within their limit): only the size is wrong.
    const events = eventRange(1, 600).map((e) => ({ ...e, notes: 'n'.repeat(1_900) }))
    const raw = JSON.stringify(events)
    expect(raw.length).toBeGreaterThan(1024 * 1024)
    const { status, body } = await expectRefused(() => postEvents(node, undefined, { raw }))
    expect(status).toBe(413)
    expect(body.error.code).toBe('PAYLOAD_TOO_LARGE')
    expect(body.error.details.field).toBe('body')
    expect(body.error.message).toMatch(/larger than the limit of 1048576 bytes/)
  })

  it('still takes a valid event afterwards', async () => {
    expect(await appendEvents(node, eventRange(1, 1))).toEqual(['hospital-a:2'])
    expect(await feedSizes(node)).toEqual(new Map([['hospital-a', 2]]))
  })
})
