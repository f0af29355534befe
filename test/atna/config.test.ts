import { describe, expect, it } from 'vitest'
import { AtnaIngest } from '../../node/atna/index.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { parseNodeConfig } from '../../node/identity/config.ts'
import { silentLogger } from '../../node/logger.ts'

const base = { name: 'hospital-a', apiToken: 'a'.repeat(43) }
const tls = { cert: 's.crt', key: 's.key', ca: 'ca.crt', allowedSubjects: ['ehr.hospital-a'] }

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isEhrlogError(err, 'CONFIG_INVALID') ? String(err.details.field) : 'other error'
  }
  return undefined
}

describe('config.json syslog.tls', () => {
  it('is off by default, and fills host, port and frame size when on', () => {
    expect(parseNodeConfig(base).syslog).toBeUndefined()
    expect(parseNodeConfig({ ...base, syslog: { tls } }).syslog?.tls).toEqual({
      ...tls,
      host: '127.0.0.1',
      port: 6514,
      maxFrameBytes: 65536,
    })
  })

  it.each([
    ['no allowed subject', { ...tls, allowedSubjects: [] }, 'syslog.tls.allowedSubjects'],
    ['no CA', { ...tls, ca: undefined }, 'syslog.tls.ca'],
    ['an unknown key', { ...tls, allowAnyone: true }, 'syslog.tls.allowAnyone'],
    ['a bad port', { ...tls, port: 70000 }, 'syslog.tls.port'],
  ])('refuses %s (CONFIG_INVALID naming the field)', (_, value, field) => {
    expect(fieldOf(() => parseNodeConfig({ ...base, syslog: { tls: value } }))).toBe(field)
  })

  it('UDP (RFC 5426) is off unless named; on, it defaults to loopback and port 514', () => {
    expect(parseNodeConfig({ ...base, syslog: { tls } }).syslog?.udp).toBeUndefined()
    expect(parseNodeConfig({ ...base, syslog: { udp: {} } }).syslog).toEqual({
      udp: { host: '127.0.0.1', port: 514, allowedNetworks: [], maxDatagramBytes: 65507 },
    })
    const lan = { host: '0.0.0.0', allowedNetworks: ['10.1.2.0/24', '192.0.2.7', 'fd00::/8'] }
    expect(parseNodeConfig({ ...base, syslog: { udp: lan } }).syslog?.udp).toMatchObject(lan)
  })

  it.each([
    [
      'a non-loopback host without allowed networks',
      { host: '0.0.0.0' },
      'syslog.udp.allowedNetworks',
    ],
    [
      'a LAN address without allowed networks',
      { host: '10.1.2.3', allowedNetworks: [] },
      'syslog.udp.allowedNetworks',
    ],
    ['a bad CIDR', { allowedNetworks: ['10.1.2.0/33'] }, 'syslog.udp.allowedNetworks.0'],
    [
      'a name instead of an address',
      { allowedNetworks: ['relay.example'] },
      'syslog.udp.allowedNetworks.0',
    ],
    [
      "a datagram limit below RFC 5426 §3.2's 480",
      { maxDatagramBytes: 100 },
      'syslog.udp.maxDatagramBytes',
    ],
  ])('refuses UDP with %s (CONFIG_INVALID naming the field)', (_, udp, field) => {
    expect(fieldOf(() => parseNodeConfig({ ...base, syslog: { udp } }))).toBe(field)
  })

  it('refuses a syslog section with neither tls nor udp', () => {
    expect(fieldOf(() => parseNodeConfig({ ...base, syslog: {} }))).toBe('syslog')
  })

  it('a missing PEM file stops the part at start with CONFIG_INVALID naming it', async () => {
    const part = new AtnaIngest({
      config: { tls: { ...tls, host: '127.0.0.1', port: 0, maxFrameBytes: 65536 } },
      dir: '/nonexistent-ehrlog-dir',
      submit: async () => {},
      logger: silentLogger(),
    })
    await expect(part.start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { field: 'syslog.tls.cert' },
    })
    await part.stop()
  })
})
