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

  it('refuses UDP: it is not built, and a setting that does nothing must not pass', () => {
    expect(fieldOf(() => parseNodeConfig({ ...base, syslog: { tls, udp: { port: 514 } } }))).toBe(
      'syslog.udp',
    )
  })

  it('a missing PEM file stops the part at start with CONFIG_INVALID naming it', async () => {
    const part = new AtnaIngest({
      config: { ...tls, host: '127.0.0.1', port: 0, maxFrameBytes: 65536 },
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
