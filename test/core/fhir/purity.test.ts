import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// node/core/fhir also runs in the browser client: no Node built-ins, no Buffer, and no
// runtime import of entry.ts, which calls Buffer.from when it loads.
const dir = join(import.meta.dirname, '../../../node/core/fhir')
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))

describe('node/core/fhir', () => {
  it.each(files)('%s uses nothing Node-only', (file) => {
    const code = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n')
    expect(code).not.toMatch(/from 'node:|require\(|\bBuffer\b|\bprocess\./)
    for (const m of code.matchAll(/^import (type )?.*from '(\.\.\/[^']+)'/gm)) {
      if (m[2] === '../entry.ts') expect(m[1], `${file} imports entry.ts`).toBe('type ')
    }
  })
})
