import { describe, expect, it } from 'vitest'
import { ACTIONS } from '../../node/core/event.ts'
import { bundlePortalScript } from '../../node/portal/bundle.ts'
import { escapeHtml, html } from '../../node/portal/html.ts'
import { homePage } from '../../node/portal/pages.ts'

describe('portal HTML', () => {
  it('escapes text for content and attributes', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;',
    )
    expect(html`<p title="${'"><img src=x>'}">${'<b>'}</p>`.html).toBe(
      '<p title="&quot;&gt;&lt;img src=x&gt;">&lt;b&gt;</p>',
    )
  })

  it('renders a hostile account name as text, with no inline script', () => {
    const page = homePage('hospital-a', {
      username: 'x@hospital-a',
      name: '<script>alert(1)</script>',
      role: 'patient',
      status: 'active',
      userId: '"><svg onload=alert(1)>',
    })
    expect(page).not.toContain('<script>alert')
    expect(page).not.toContain('<svg')
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    // The only script is the bundled file: the CSP allows nothing inline.
    expect(page.match(/<script/g)).toEqual(['<script'])
    expect(page).toContain('<script type="module" src="/portal/app.js"></script>')
  })

  it("offers the auditors' action filter as a choice among the schema's actions", () => {
    const page = homePage('hospital-a', {
      username: 'audit@hospital-a',
      name: 'Audit Co',
      role: 'auditor',
      status: 'active',
      userId: 'audit@hospital-a',
    })
    const select = /<select id="f-action" name="action">(.*?)<\/select>/.exec(page)?.[1] ?? ''
    const options = [...select.matchAll(/<option value="([^"]*)">([^<]*)<\/option>/g)]
    expect(options.map((m) => m[1])).toEqual(['', ...ACTIONS])
    expect(options[0]?.[2]).toBe('any')
    expect(page).not.toContain('<input id="f-action"')
  })

  it('lays out the access report: two sections with column headers, and no completeness claim', () => {
    const user = { username: 'a@hospital-a', name: 'A', status: 'active' }
    const patient = homePage('hospital-a', { ...user, role: 'patient', userId: 'MRN-A' })
    const auditor = homePage('hospital-a', { ...user, role: 'auditor', userId: 'a@hospital-a' })
    const headers = (page: string, table: string) =>
      [
        ...(new RegExp(`<table id="${table}"[^]*?</thead>`).exec(page)?.[0] ?? '').matchAll(
          /<th scope="col"[^>]*>([^<]*)<\/th>/g,
        ),
      ].map((m) => m[1])
    const columns = ['When', 'Who', 'What', 'Data', 'Where (hospital)', 'Notes', 'Entry']
    for (const table of ['accesses', 'views']) {
      expect(headers(patient, table)).toEqual(columns)
      expect(headers(auditor, table)).toEqual([...columns.slice(0, 5), 'Patient', 'Notes', 'Entry'])
    }
    expect(patient).toContain('<h3 id="accesses-h">Accesses to your record</h3>')
    expect(patient).toContain('<h3 id="views-h">Who looked at your audit trail</h3>')
    expect(patient).toContain('<p id="completeness" data-state="not-checked"></p>')
    expect(patient).not.toMatch(/complete:/)
    expect(patient).toContain('data-username="a@hospital-a"')
  })

  it('bundles the browser script without Node built-ins', async () => {
    const script = await bundlePortalScript()
    expect(script.length).toBeGreaterThan(10_000)
    expect(script).not.toMatch(/from\s*["']node:|require\(["']node:/)
  }, 30_000)
})

describe('browser node:crypto shim', () => {
  it('hashes as node:crypto does, in both output encodings core uses', async () => {
    const { hash: nodeHash } = await import('node:crypto')
    const { hash } = await import('../../node/portal/browser/node-crypto.ts')
    const data = new TextEncoder().encode('abc')
    expect(hash('sha256', data, 'hex')).toBe(nodeHash('sha256', data, 'hex'))
    expect(hash('sha256', data)).toBe(nodeHash('sha256', data))
    expect(Buffer.from(hash('sha256', data, 'buffer') as Uint8Array)).toEqual(
      nodeHash('sha256', data, 'buffer'),
    )
  })
})
