/**
 * A strict, single-pass XML 1.0 reader for audit messages: it checks well-formedness (XML
 * 1.0 §2.1 document, §3.1 tags and attributes, §2.4–2.8 text, comments, PIs, CDATA, the
 * XML declaration; §4.1/4.6 only the five predefined entities and character references)
 * while it builds the tree, in the shape fast-xml-parser gives with the options
 * audit-message.ts used before (attributes as plain properties, namespace prefixes and
 * xmlns attributes dropped, a child as an object or, repeated or listed in `arrays`, an
 * array; an element with neither attributes nor children as its trimmed text; other text as
 * `#text`). Validating and then parsing with fast-xml-parser walked every message twice
 * through general-purpose code: ~95 µs of a ~110 µs message (docs/performance.md); this
 * does both in one walk. A DTD is refused outright (no entity can be defined, so none can
 * be expanded). The differential test (test/atna/xml-reader.test.ts) holds it to
 * fast-xml-parser's trees and verdicts.
 */

export class XmlNotWellFormed extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message)
  }
}

type Node = Record<string, unknown>

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' }

/** Parses `text` (one document); throws XmlNotWellFormed naming the problem and its line. */
export function readXml(text: string, arrays: ReadonlySet<string>): Node {
  return new Reader(text, arrays).document()
}

class Reader {
  #at = 0

  constructor(
    private readonly s: string,
    private readonly arrays: ReadonlySet<string>,
  ) {}

  document(): Node {
    const s = this.s
    if (s.charCodeAt(0) === 0xfeff) this.#at = 1
    if (s.startsWith('<?xml', this.#at) && isSpace(s.charCodeAt(this.#at + 5))) {
      const end = s.indexOf('?>', this.#at)
      if (end === -1) this.fail('XML declaration not closed')
      this.#at = end + 2
    }
    this.misc()
    if (s[this.#at] !== '<') this.fail('no root element')
    const out: Node = {}
    const [name, value] = this.element()
    out[name] = this.arrays.has(name) ? [value] : value
    this.misc()
    if (this.#at < s.length) this.fail('content after the root element')
    return out
  }

  /** Whitespace, comments and processing instructions outside the root element. */
  misc(): void {
    const s = this.s
    for (;;) {
      while (isSpace(s.charCodeAt(this.#at))) this.#at++
      if (s.startsWith('<!--', this.#at)) this.comment()
      else if (s.startsWith('<?', this.#at)) this.pi()
      else if (s.startsWith('<!', this.#at)) this.fail('a DTD or declaration is not allowed')
      else return
    }
  }

  /** At "<": one element and its content; returns its name (prefix dropped) and value. */
  element(): [string, unknown] {
    const s = this.s
    this.#at++
    const qname = this.name('element name')
    const attrs: Node = {}
    let hasAttrs = false
    const seen = new Set<string>()
    let selfClosing = false
    for (;;) {
      const spaced = this.spaces()
      const c = s[this.#at]
      if (c === '>') {
        this.#at++
        break
      }
      if (c === '/' && s[this.#at + 1] === '>') {
        this.#at += 2
        selfClosing = true
        break
      }
      if (c === undefined) this.fail(`<${qname}> not closed`)
      if (!spaced) this.fail(`want whitespace before attribute in <${qname}>`)
      const attrName = this.name('attribute name')
      if (seen.has(attrName)) this.fail(`attribute ${attrName} repeated in <${qname}>`)
      seen.add(attrName)
      this.spaces()
      if (s[this.#at] !== '=') this.fail(`attribute ${attrName} has no value`)
      this.#at++
      this.spaces()
      const quote = s[this.#at]
      if (quote !== '"' && quote !== "'") this.fail(`attribute ${attrName}: value not quoted`)
      const end = s.indexOf(quote, this.#at + 1)
      if (end === -1) this.fail(`attribute ${attrName}: value not closed`)
      const raw = s.slice(this.#at + 1, end)
      if (raw.includes('<')) this.fail(`attribute ${attrName}: "<" in value`)
      this.#at = end + 1
      if (attrName === 'xmlns' || attrName.startsWith('xmlns:')) continue
      attrs[local(attrName)] = this.text(raw)
      hasAttrs = true
    }
    const name = local(qname)
    if (selfClosing) return [name, hasAttrs ? attrs : '']
    const node = attrs
    let hasChildren = false
    let text = ''
    for (;;) {
      const lt = s.indexOf('<', this.#at)
      if (lt === -1) this.fail(`<${qname}> not closed`)
      if (lt > this.#at) text += this.text(s.slice(this.#at, lt), true)
      this.#at = lt
      if (s.startsWith('</', lt)) {
        this.#at += 2
        const closing = this.name('closing tag name')
        this.spaces()
        if (s[this.#at] !== '>') this.fail(`</${closing}> not closed`)
        if (closing !== qname) this.fail(`</${closing}> closes <${qname}>`)
        this.#at++
        break
      }
      if (s.startsWith('<!--', lt)) this.comment()
      else if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9)
        if (end === -1) this.fail('CDATA section not closed')
        this.chars(s.slice(lt + 9, end))
        text += s.slice(lt + 9, end)
        this.#at = end + 3
      } else if (s.startsWith('<?', lt)) this.pi()
      else if (s.startsWith('<!', lt)) this.fail('a DTD or declaration is not allowed')
      else {
        const [childName, value] = this.element()
        const prev = node[childName]
        if (prev === undefined) node[childName] = this.arrays.has(childName) ? [value] : value
        else if (Array.isArray(prev)) prev.push(value)
        else node[childName] = [prev, value]
        hasChildren = true
      }
    }
    const trimmed = text.trim()
    if (!hasAttrs && !hasChildren) return [name, trimmed]
    if (trimmed !== '') node['#text'] = trimmed
    return [name, node]
  }

  comment(): void {
    const end = this.s.indexOf('--', this.#at + 4)
    if (end === -1) this.fail('comment not closed')
    if (this.s[end + 2] !== '>') this.fail('"--" inside a comment')
    this.chars(this.s.slice(this.#at + 4, end))
    this.#at = end + 3
  }

  pi(): void {
    this.#at += 2
    const target = this.name('processing instruction target')
    if (target.toLowerCase() === 'xml') this.fail('XML declaration not at the start')
    const end = this.s.indexOf('?>', this.#at)
    if (end === -1) this.fail('processing instruction not closed')
    if (end > this.#at && !isSpace(this.s.charCodeAt(this.#at)))
      this.fail('want whitespace after the processing instruction target')
    this.#at = end + 2
  }

  /** XML 1.0 §2.3 Name (non-ASCII characters are taken as name characters). */
  name(what: string): string {
    const s = this.s
    const start = this.#at
    const first = s.charCodeAt(start)
    if (!(isNameStart(first) || first >= 0x80)) this.fail(`bad ${what}`)
    let at = start + 1
    for (;;) {
      const c = s.charCodeAt(at)
      if (isNameStart(c) || c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39) || c >= 0x80) at++
      else break
    }
    this.#at = at
    return s.slice(start, at)
  }

  spaces(): boolean {
    const start = this.#at
    while (isSpace(this.s.charCodeAt(this.#at))) this.#at++
    return this.#at > start
  }

  /** Character data or an attribute value: checks its characters and expands references. */
  text(raw: string, content = false): string {
    if (content && raw.includes(']]>')) this.fail('"]]>" in text')
    this.chars(raw)
    if (!raw.includes('&')) return raw
    return raw.replace(/&([^;]*);?/g, (whole, ref: string) => {
      if (!whole.endsWith(';')) this.fail(`"&" not starting a reference`)
      if (ref in PREDEFINED) return PREDEFINED[ref]!
      const code = /^#[0-9]{1,7}$/.test(ref)
        ? Number(ref.slice(1))
        : /^#x[0-9a-fA-F]{1,6}$/.test(ref)
          ? Number.parseInt(ref.slice(2), 16)
          : -1
      if (code === -1) this.fail(`entity &${ref}; is not defined (only the five predefined)`)
      if (!isXmlChar(code)) this.fail(`&${ref}; is not an XML character`)
      return String.fromCodePoint(code)
    })
  }

  /** XML 1.0 §2.2 Char: no control characters but tab, LF and CR; no U+FFFE/FFFF. */
  chars(raw: string): void {
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i)
      if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff)
        this.fail(`character U+${c.toString(16).padStart(4, '0')} is not allowed in XML`)
    }
  }

  fail(problem: string): never {
    let line = 1
    for (let i = 0; i < this.#at && i < this.s.length; i++) if (this.s.charCodeAt(i) === 10) line++
    throw new XmlNotWellFormed(problem, line)
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a
}

function isXmlChar(c: number): boolean {
  return (
    c === 0x09 ||
    c === 0x0a ||
    c === 0x0d ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  )
}

/** A qualified name without its namespace prefix (a name with two colons is kept whole). */
function local(qname: string): string {
  const colon = qname.indexOf(':')
  if (colon === -1 || qname.indexOf(':', colon + 1) !== -1) return qname
  return qname.slice(colon + 1)
}
