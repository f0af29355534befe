import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../node/core/errors.ts'
import { parseNodeConfig } from '../../node/identity/config.ts'

const BASE = { name: 'hospital-a', apiToken: 'a'.repeat(43) }

function refusal(value: unknown): unknown {
  try {
    parseNodeConfig(value)
  } catch (err) {
    return err
  }
  throw new Error('accepted')
}

describe('config: TLS, proxy, metrics and quorum alert keys', () => {
  it('has defaults that change nothing: plain HTTP, no proxy, alerts after 3 rounds or 5 minutes', () => {
    const config = parseNodeConfig(BASE)
    expect(config.http).toEqual({ host: '127.0.0.1', port: 0, trustProxy: false })
    expect(config.alerts).toMatchObject({ quorumStallRounds: 3, memberSilenceMs: 300_000 })
    const partial = parseNodeConfig({ ...BASE, http: { port: 8443 }, alerts: { admins: [] } })
    expect(partial.http.trustProxy).toBe(false)
    expect(partial.alerts.memberSilenceMs).toBe(300_000)
  })

  it('accepts the new keys', () => {
    const config = parseNodeConfig({
      ...BASE,
      http: {
        tls: { cert: 'tls/fullchain.pem', key: '/etc/ehrlog/privkey.pem' },
        trustProxy: ['10.0.0.0/8'],
        metricsToken: 'm'.repeat(32),
      },
      alerts: { quorumStallRounds: 5, memberSilenceMs: 60_000 },
    })
    expect(config.http.tls).toEqual({ cert: 'tls/fullchain.pem', key: '/etc/ehrlog/privkey.pem' })
    expect(config.http.trustProxy).toEqual(['10.0.0.0/8'])
  })

  it.each([
    ['http.tls.key', { http: { tls: { cert: 'c.pem' } } }],
    ['http.tls.chain', { http: { tls: { cert: 'c.pem', key: 'k.pem', chain: 'x' } } }],
    ['http.trustProxy', { http: { trustProxy: 'yes' } }],
    ['http.metricsToken', { http: { metricsToken: 'short' } }],
    ['alerts.quorumStallRounds', { alerts: { quorumStallRounds: 0 } }],
    ['alerts.memberSilenceMs', { alerts: { memberSilenceMs: 10 } }],
  ])('refuses a bad %s with CONFIG_INVALID naming it', (field, extra) => {
    const err = refusal({ ...BASE, ...extra })
    expect(isEhrlogError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as { details: { field: string } }).details.field).toBe(field)
  })
})
