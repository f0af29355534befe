// Mutated audit messages for xml-differential.test.ts: every message of the test corpus and
// of the syslog benchmark, truncated, with characters deleted, duplicated or inserted, and
// with tags swapped. Deterministic (a fixed-seed PRNG).
import { prng } from '../../scripts/bench/syslog-load.ts'

const INSERTS = [
  '<',
  '>',
  '&',
  '"',
  "'",
  '/',
  '=',
  ' ',
  '\t',
  '\n',
  '\r\n',
  ']]>',
  '&#9;',
  '&#32;',
  '&#x0;',
  '&amp;',
  '&foo;',
  '<!--c-->',
  '<![CDATA[ x ]]>',
  '<?pi x?>',
  '<x/>',
  '</x>',
  '\u0000',
  '\uFEFF',
  '<!DOCTYPE a>',
  ' a="1"',
  ' xmlns:p="u"',
  '\u00a0',
]

export function mutantsOf(xml: string, count: number, seed: number): string[] {
  const random = prng(seed)
  const at = (n: number) => Math.floor(random() * n)
  const out: string[] = []
  // Truncations at 40 places spread over the message.
  for (let i = 1; i <= 40; i++) out.push(xml.slice(0, Math.floor((xml.length * i) / 41)))
  const tags = [...xml.matchAll(/<\/?([A-Za-z_][\w.:-]*)/g)]
  while (out.length < count) {
    const kind = at(5)
    const i = at(xml.length)
    if (kind === 0) out.push(xml.slice(0, i) + xml.slice(i + 1 + at(3)))
    else if (kind === 1) out.push(xml.slice(0, i) + xml.slice(i, i + 1 + at(3)) + xml.slice(i))
    else if (kind === 2) out.push(xml.slice(0, i) + INSERTS[at(INSERTS.length)] + xml.slice(i))
    else if (kind === 3 && tags.length > 1) {
      // Two tag names swapped.
      const a = tags[at(tags.length)]!
      const b = tags[at(tags.length)]!
      if (a.index === b.index) continue
      const [first, second] = a.index! < b.index! ? [a, b] : [b, a]
      const f = first.index! + first[0].length - first[1]!.length
      const s = second.index! + second[0].length - second[1]!.length
      out.push(
        xml.slice(0, f) +
          second[1] +
          xml.slice(f + first[1]!.length, s) +
          first[1] +
          xml.slice(s + second[1]!.length),
      )
    } else {
      // Two mutations at once.
      const j = at(xml.length)
      const once = xml.slice(0, i) + INSERTS[at(INSERTS.length)] + xml.slice(i)
      out.push(once.slice(0, j) + once.slice(j + 1))
    }
  }
  return out
}
