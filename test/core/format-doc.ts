import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Reads the worked examples out of docs/format.md, so the tests check the document itself
 * against the code: a block is marked by `<!-- example: NAME -->` on its own line, followed
 * (after a blank line) by a fenced block or a table.
 */
export interface DocExample {
  name: string
  /** `json`, `text` or `table`. */
  kind: string
  lines: string[]
}

export const FORMAT_DOC = join(import.meta.dirname, '..', '..', 'docs', 'format.md')

export function readFormatExamples(path = FORMAT_DOC): Map<string, DocExample> {
  const lines = readFileSync(path, 'utf8').split('\n')
  const out = new Map<string, DocExample>()
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- example: ([a-z0-9-]+) -->$/.exec(lines[i]!)
    if (!marker) continue
    const name = marker[1]!
    if (out.has(name)) throw new Error(`docs/format.md: example ${name} appears twice`)
    let j = i + 1
    while (lines[j] === '') j++
    const fence = /^```(\w+)$/.exec(lines[j] ?? '')
    const body: string[] = []
    if (fence) {
      for (j++; j < lines.length && lines[j] !== '```'; j++) body.push(lines[j]!)
      out.set(name, { name, kind: fence[1]!, lines: body })
    } else if (lines[j]?.startsWith('|')) {
      for (; j < lines.length && lines[j]!.startsWith('|'); j++) body.push(lines[j]!)
      out.set(name, { name, kind: 'table', lines: body })
    } else {
      throw new Error(`docs/format.md: example ${name} is followed by neither a block nor a table`)
    }
  }
  return out
}

const HEX_RUN = /^[0-9a-f]+(?: [0-9a-f]+)*$/

/**
 * The labelled hex values of a `text` example: `label  hex hex  comment`. A label is set off by
 * two or more spaces; a line starting with spaces continues the previous label; the hex is the
 * first two-space-separated column when it is all hex digits (groups split by single spaces),
 * and anything after it is a comment.
 */
export function hexFields(example: DocExample): Map<string, string> {
  const fields = new Map<string, string>()
  let label: string | undefined
  for (const line of example.lines) {
    let rest: string
    if (/^\s/.test(line)) {
      rest = line.trim()
    } else {
      const m = /^(\S(?:.*?\S)?) {2,}(.*)$/.exec(line)
      if (!m) throw new Error(`example ${example.name}: no label in ${JSON.stringify(line)}`)
      label = m[1]!
      rest = m[2]!
      fields.set(label, '')
    }
    if (label === undefined) throw new Error(`example ${example.name}: starts with a continuation`)
    const column = rest.split(/ {2,}/)[0] ?? ''
    if (HEX_RUN.test(column)) fields.set(label, fields.get(label) + column.replaceAll(' ', ''))
  }
  return fields
}

/** The cells of a table example's data rows (header and separator dropped), `code` unwrapped. */
export function tableRows(example: DocExample): string[][] {
  return example.lines.slice(2).map((row) =>
    row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')),
  )
}
