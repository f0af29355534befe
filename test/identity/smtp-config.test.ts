import { describe, expect, it } from 'vitest'
import { smtpConfigSchema } from '../../node/identity/index.ts'

describe('smtpConfigSchema', () => {
  it('defaults to submission on 587 with mandatory STARTTLS and verified certificates', () => {
    expect(
      smtpConfigSchema.parse({ host: 'smtp.example.org', from: 'ehrlog@example.org' }),
    ).toEqual({
      host: 'smtp.example.org',
      port: 587,
      secure: false,
      requireTLS: true,
      from: 'ehrlog@example.org',
      rejectUnauthorized: true,
    })
  })

  it('with secure (implicit TLS) defaults to 465 and no STARTTLS', () => {
    const config = smtpConfigSchema.parse({ host: 'h', from: 'a@b.org', secure: true })
    expect(config).toMatchObject({ port: 465, secure: true, requireTLS: false })
  })

  it('keeps explicit values and auth', () => {
    const config = smtpConfigSchema.parse({
      host: 'h',
      port: 2525,
      requireTLS: false,
      auth: { user: 'u', pass: 'p' },
      from: 'a@b.org',
      rejectUnauthorized: false,
    })
    expect(config).toMatchObject({ port: 2525, requireTLS: false, auth: { user: 'u', pass: 'p' } })
  })

  it.each([
    [{ host: 'h', from: 'a@b.org', requireTls: true }, 'misspelt key'],
    [{ host: 'h', from: 'not an address' }, 'from'],
    [{ host: '', from: 'a@b.org' }, 'host'],
    [{ host: 'h', from: 'a@b.org', port: 70000 }, 'port'],
    [{ host: 'h', from: 'a@b.org', auth: { user: 'u' } }, 'auth without pass'],
    [{ from: 'a@b.org' }, 'no host'],
  ] as Array<[unknown, string]>)('refuses %j (%s)', (input) => {
    expect(smtpConfigSchema.safeParse(input).success).toBe(false)
  })
})
