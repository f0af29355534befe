import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { httpFailureOf } from '../../node/api/http-errors.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { TOKEN, useApi } from './harness.ts'

const startApi = useApi()

/** Sends raw bytes and reads until the server closes the connection. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (c) => {
      answer += c
    })
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
    socket.end(request)
  })
}

describe('errors before routing keep the API error shape', () => {
  it('a 20 KB header gets 431 with {error: {code, message, details}}', async () => {
    const api = await startApi()
    const answer = await raw(
      api.url,
      `GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    )
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
    expect(body).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: expect.stringMatching(/headers are larger than the limit/),
        details: { field: 'headers' },
      },
    })
  })

  it('STORE_CORRUPT found while answering is 503 with its code, not a 500', () => {
    const failure = httpFailureOf(new EhrlogError('STORE_CORRUPT', 'entry a:7 fails its MAC'), {
      bodyLimitBytes: 1,
      contentType: undefined,
    })
    expect(failure.statusCode).toBe(503)
    expect(failure.error.code).toBe('STORE_CORRUPT')
    expect(failure.error.message).toMatch(/being repaired/)
    expect(failure.error.message).not.toContain('a:7')
  })
})
