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
