import { SaxesParser } from 'saxes'

/**
 * One pass of saxes (strict XML 1.0 well-formedness, as jsdom uses it) over an audit message,
 * building the object that fast-xml-parser's `XMLParser` gave the mapping with the options
 * audit-message.ts used (attributes as plain properties, namespace prefixes removed, values
 * as strings, processing instructions, comments and the declaration dropped, `isArray` by
 * name). It replaces
 * `XMLValidator.validate` then `XMLParser.parse` (two passes, ~40 µs of ~55 per message:
 * docs/performance.md, session 10). test/atna/xml-differential.test.ts checks that it
 * refuses every mutated corpus message the old two passes refused, and gives the same object
 * for every one both accept, except for the values XML reads otherwise than they did (below).
 *
 * Values are what XML 1.0 says they are, as saxes decodes them: character references
 * (`&#233;`, `&#xE9;`: §4.1) and the five predefined entities replaced by their characters,
 * line ends as LF (§2.11), and in an attribute value each literal tab, CR or LF a space
 * (§3.3.3 for CDATA attributes: there is no DTD, so nothing more). A reference to a
 * character XML 1.0 does not allow (`&#0;`, `&#x1;`, a surrogate, `&#xFFFE;`) is refused.
 * Then, as fast-xml-parser did, each value and each piece of text (text up to a CDATA
 * section, processing instruction or tag; comments do not end a piece) is trimmed (String
 * trim). Until session 10's character-reference change the reader kept references as
 * written and tabs in attribute values, as fast-xml-parser 5.12 had. A
 * name fast-xml-parser refuses (`__proto__`, `constructor`, `prototype`), nesting deeper
 * than 100 elements (its limit), a name with U+FEFF or U+1680 (see checkName), and a
 * processing instruction with an unbalanced quote (it found no end to it) are refused.
 */
export class XmlRefusal extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

type Obj = Record<string, unknown>

interface Frame {
  name: string
  /** The compressed children so far (fast-xml-parser's node2json, one element at a time). */
  obj: Obj
  /** How many keys obj has. */
  keys: number
  /** The text pieces, each trimmed, joined (fast-xml-parser's textData). */
  text: string | undefined
  /** The decoded text of the current piece (a comment does not end a piece). */
  pending: string
  attrs: Obj | undefined
}

const ARRAYS = new Set([
  'ActiveParticipant',
  'ParticipantObjectIdentification',
  'AuditSourceIdentification',
])
// fast-xml-parser's util.js: names it refuses, and names it renames with "__".
const CRITICAL = new Set(['__proto__', 'constructor', 'prototype'])
const DANGEROUS = new Set([
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
])
const MAX_DEPTH = 100
const hasOwn = Object.prototype.hasOwnProperty

function safeName(name: string): string {
  // Only names of these lengths can be in either set (most ATNA names are not).
  const n = name.length
  if (n !== 7 && n !== 8 && n !== 9 && n !== 11 && n !== 14 && n !== 16) return name
  if (CRITICAL.has(name)) throw new XmlRefusal('xml', `the name "${name}" is not allowed`)
  return DANGEROUS.has(name) ? `__${name}` : name
}

/** Tag names lose everything up to their first colon (removeNSPrefix). */
function tagName(raw: string): string {
  const colon = raw.indexOf(':')
  return safeName(colon === -1 ? raw : raw.slice(colon + 1))
}

/** Attribute names: xmlns and xmlns:* are dropped (""), p:name is name, a:b:c stays whole. */
function attrName(raw: string): string {
  const colon = raw.indexOf(':')
  if (colon === -1) return raw === 'xmlns' ? '' : safeName(raw)
  const prefix = raw.slice(0, colon)
  if (prefix === 'xmlns') return ''
  return raw.indexOf(':', colon + 1) === -1 ? safeName(raw.slice(colon + 1)) : safeName(raw)
}

/**
 * For saxes' "malformed character entity": the reference it refused, which ends just before
 * `end` (where saxes stopped), named and said why (§4.1, §2.2 Char); undefined if not found
 * (then saxes' own reason is given).
 */
function badReference(text: string, why: string, end: number): string | undefined {
  if (!why.endsWith('malformed character entity.')) return undefined
  // saxes reads a reference from "&#" up to the next ";" (whatever is between), so it starts
  // at the first "&#" after the ";" before.
  const start = text.indexOf('&#', text.lastIndexOf(';', end - 2) + 1)
  if (start === -1 || start >= end) return undefined
  const ref = text.slice(start, end)
  const m = /^&#(?:x([0-9a-fA-F]+)|([0-9]+));$/.exec(ref)
  if (!m) {
    // However far the next ";" was: a long one is cut for the log.
    const shown = ref.length > 24 ? `${ref.slice(0, 20)}…` : ref
    return `a malformed character reference (${JSON.stringify(shown)})`
  }
  const code = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number.parseInt(m[2]!, 10)
  return isXmlChar(code)
    ? undefined
    : `a character reference to a character XML 1.0 does not allow (${ref})`
}

/** XML 1.0 §2.2 Char. */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  )
}

/**
 * The top-level object fast-xml-parser's `parse` gave for `text` (e.g. `{ AuditMessage: … }`),
 * after checking that `text` is well-formed XML 1.0. Throws XmlRefusal.
 */
export function readAuditXml(text: string): Obj {
  const top: Frame = { name: '', obj: {}, keys: 0, text: undefined, pending: '', attrs: undefined }
  // The parser is reused from message to message while each ends cleanly (close() resets
  // it whole, as its constructor does); one that threw mid-message is dropped.
  const parser = spare ?? newParser()
  spare = undefined
  at = {
    parser,
    top,
    stack: [top],
    frame: top,
    attrs: undefined,
    oddSpace: text.includes('\uFEFF') || text.includes('\u1680'),
  }
  try {
    parser.write(text).close()
    spare = parser
  } catch (err) {
    if (err instanceof XmlRefusal) throw err
    const why = err instanceof Error ? err.message : String(err)
    throw new XmlRefusal(
      'xml',
      `not well-formed: ${badReference(text, why, parser.position) ?? why}`,
    )
  } finally {
    at = undefined
  }
  return top.obj
}

type Parser = SaxesParser<{ position: false; forceXMLVersion: true; defaultXMLVersion: '1.0' }>

/** A parser that ended its last message cleanly, ready for the next. */
let spare: Parser | undefined

/**
 * A strict XML 1.0 parser (ATNA messages are XML 1.0: a document that declares 1.1 is still
 * read by 1.0's rules) with the handlers below. No error handler: saxes then throws its
 * first error. And no more than seven handlers (these six): saxes stores each as a property by
 * computed name, and an eighth turns the parser into a slow dictionary-mode object, ~5x
 * slower (docs/performance.md, session 10). The handlers are module functions reading `at`
 * (one message is read at a time, whole), not closures made per message.
 */
function newParser(): Parser {
  const parser: Parser = new SaxesParser({
    position: false,
    forceXMLVersion: true,
    defaultXMLVersion: '1.0',
  })
  parser.on('text', onText)
  parser.on('processinginstruction', onPi)
  parser.on('cdata', onCdata)
  parser.on('attribute', onAttribute)
  parser.on('opentag', onOpenTag)
  parser.on('closetag', onCloseTag)
  return parser
}

/** The message being read. */
interface Reading {
  parser: Parser
  top: Frame
  stack: Frame[]
  frame: Frame
  /** The attributes of the tag being opened. */
  attrs: Obj | undefined
  /** Whether the text has U+FEFF or U+1680 (names with them are refused). */
  oddSpace: boolean
}

const ODD_SPACE = /[\uFEFF\u1680]/

/**
 * U+FEFF and U+1680 are name characters in XML 1.0 but whitespace to JavaScript's /\s/, which
 * fast-xml-parser split tags with: it read `a\uFEFFb="1"` as attribute b. A name holding one
 * is refused, not read either way.
 */
function checkName(r: Reading, name: string): void {
  if (r.oddSpace && ODD_SPACE.test(name))
    throw new XmlRefusal('xml', `a name with U+FEFF or U+1680 (${JSON.stringify(name)})`)
}

let at: Reading | undefined

function flush(r: Reading, f: Frame): void {
  if (f.pending === '') return
  const piece = f.pending.trim()
  f.pending = ''
  if (piece !== '' && f !== r.top) f.text = f.text === undefined ? piece : f.text + piece
}

// saxes hands text decoded (references replaced, line ends as LF), up to the next "<".
function onText(t: string): void {
  const r = at!
  if (r.frame !== r.top) r.frame.pending += t
}

function onPi(pi: { body: string }): void {
  const r = at!
  // fast-xml-parser looked for a PI's end outside quotes, skipping from a quote to the next
  // one: with an unbalanced quote it ran past the end (and refused, or misread what followed).
  if (!quotesPair(pi.body))
    throw new XmlRefusal('xml', 'a processing instruction with an unbalanced quote')
  flush(r, r.frame)
}

/** Whether every ' or " in `s` has its pair after it in `s` (fast-xml-parser's scan). */
function quotesPair(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '"' || c === "'") {
      i = s.indexOf(c, i + 1)
      if (i === -1) return false
    }
  }
  return true
}

// A CDATA section is a piece of its own, neither trimmed nor expanded.
function onCdata(c: string): void {
  const r = at!
  const f = r.frame
  flush(r, f)
  if (f !== r.top) f.text = f.text === undefined ? c : f.text + c
}

// saxes hands the value decoded and normalized (§3.3.3: literal tab, CR, LF each a space).
function onAttribute(a: { name: string; value: string }): void {
  const r = at!
  checkName(r, a.name)
  const name = attrName(a.name)
  if (name === '') return
  r.attrs ??= {}
  r.attrs[name] = a.value.trim()
}

function onOpenTag(tag: { name: string }): void {
  const r = at!
  checkName(r, tag.name)
  flush(r, r.frame)
  if (r.stack.length > MAX_DEPTH)
    throw new XmlRefusal('xml', `elements nested deeper than ${MAX_DEPTH}`)
  const attrs = r.attrs
  r.attrs = undefined
  r.frame = { name: tagName(tag.name), obj: {}, keys: 0, text: undefined, pending: '', attrs }
  r.stack.push(r.frame)
}

function onCloseTag(): void {
  const r = at!
  flush(r, r.frame)
  const done = r.stack.pop()!
  r.frame = r.stack[r.stack.length - 1]!
  addChild(r.frame, done)
}

/** node2json's compress for one closed element, added to its parent's object. */
function addChild(parent: Frame, child: Frame): void {
  let val: unknown = child.obj
  if (child.text !== undefined && child.text.length > 0) {
    child.obj['#text'] = child.text
    child.keys++
  }
  if (child.attrs) {
    for (const name in child.attrs)
      child.obj[name] = ARRAYS.has(name) ? [child.attrs[name]] : child.attrs[name]
  } else if (child.keys === 0) val = ''
  else if (child.keys === 1 && child.obj['#text'] !== undefined) val = child.obj['#text']
  const name = child.name
  const obj = parent.obj
  const existing = hasOwn.call(obj, name) ? obj[name] : undefined
  if (existing !== undefined) {
    if (Array.isArray(existing)) existing.push(val)
    else obj[name] = [existing, val]
  } else {
    obj[name] = ARRAYS.has(name) ? [val] : val
    parent.keys++
  }
}
