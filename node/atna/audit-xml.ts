import { SaxesParser } from 'saxes'

/**
 * One pass of saxes (strict XML 1.0 well-formedness, as jsdom uses it) over an audit message,
 * building the object that fast-xml-parser's `XMLParser` gave the mapping with the options
 * audit-message.ts used (attributes as plain properties, namespace prefixes removed, values
 * as strings, the five predefined entities and character references expanded, processing
 * instructions, comments and the declaration dropped, `isArray` by name). It replaces
 * `XMLValidator.validate` then `XMLParser.parse` (two passes, ~40 µs of ~55 per message:
 * docs/performance.md, session 10). test/atna/xml-differential.test.ts checks that it
 * refuses every mutated corpus message the old two passes refused, and gives the same object
 * for every one both accept.
 *
 * Values are taken from the raw text saxes has checked, as fast-xml-parser took them: line
 * ends as LF, trimmed, then only the five predefined entities expanded. Character references
 * are kept as written (fast-xml-parser 5.12 with these options expanded none: `&#65;` stays
 * `&#65;`; the ones it dropped, control characters and surrogates, saxes refuses), and a
 * literal tab or line break in an attribute value is kept (XML would make it a space). A
 * name fast-xml-parser refuses (`__proto__`, `constructor`, `prototype`) and nesting deeper
 * than 100 elements (its limit) are refused.
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
  /** The text pieces, each trimmed and expanded, joined (fast-xml-parser's textData). */
  text: string | undefined
  /** The raw text of the current piece (a comment does not end a piece). */
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

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

/** A raw attribute value or piece of text as fast-xml-parser read it (see above). */
function valueOf(raw: string): string {
  const v = (raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw).trim()
  return v.includes('&')
    ? v.replace(/&(lt|gt|amp|quot|apos);/g, (_, n: string) => PREDEFINED[n]!)
    : v
}

/**
 * The top-level object fast-xml-parser's `parse` gave for `text` (e.g. `{ AuditMessage: … }`),
 * after checking that `text` is well-formed XML 1.0. Throws XmlRefusal.
 */
export function readAuditXml(text: string): Obj {
  const parser = new SaxesParser({ position: false })
  const top: Frame = { name: '', obj: {}, text: undefined, pending: '', attrs: undefined }
  const stack: Frame[] = [top]
  let frame = top
  /** Where the last markup ended: text runs from there to the "<" saxes is at. */
  let markEnd = 0
  let attrs: Obj | undefined

  const flush = (f: Frame): void => {
    if (f.pending === '') return
    const piece = valueOf(f.pending)
    f.pending = ''
    if (piece !== '' && f !== top) f.text = f.text === undefined ? piece : f.text + piece
  }
  const marked = (): void => {
    markEnd = parser.position
  }
  parser.on('text', () => {
    if (frame !== top) frame.pending += text.slice(markEnd, parser.position - 1)
  })
  // A comment does not end a piece of text; a processing instruction does.
  parser.on('comment', () => {
    markEnd = parser.position + 1
  })
  parser.on('processinginstruction', () => {
    flush(frame)
    marked()
  })
  parser.on('cdata', (c) => {
    // A CDATA section is a piece of its own, neither trimmed nor expanded.
    flush(frame)
    marked()
    if (frame !== top) frame.text = frame.text === undefined ? c : frame.text + c
  })
  parser.on('attribute', (a) => {
    const name = attrName(a.name)
    if (name === '') return
    const end = parser.position - 1
    const quote = text[end]!
    attrs ??= {}
    attrs[name] = valueOf(text.slice(text.lastIndexOf(quote, end - 1) + 1, end))
  })
  parser.on('opentag', (tag) => {
    flush(frame)
    marked()
    if (stack.length > MAX_DEPTH)
      throw new XmlRefusal('xml', `elements nested deeper than ${MAX_DEPTH}`)
    frame = { name: tagName(tag.name), obj: {}, text: undefined, pending: '', attrs }
    attrs = undefined
    stack.push(frame)
  })
  parser.on('closetag', () => {
    flush(frame)
    marked()
    const done = stack.pop()!
    frame = stack[stack.length - 1]!
    addChild(frame.obj, done)
  })
  // No error handler: saxes then throws its first error. (And no more than these seven
  // handlers: saxes stores each as a property by computed name, and an eighth turns the
  // parser into a slow dictionary-mode object, ~5x slower: docs/performance.md, session 10.)
  try {
    parser.write(text).close()
  } catch (err) {
    if (err instanceof XmlRefusal) throw err
    throw new XmlRefusal('xml', `not well-formed: ${err instanceof Error ? err.message : err}`)
  }
  return top.obj
}

/** node2json's compress for one closed element, added to its parent's object. */
function addChild(parent: Obj, child: Frame): void {
  let val: unknown = child.obj
  if (child.text !== undefined && child.text.length > 0) child.obj['#text'] = child.text
  if (child.attrs) {
    for (const name in child.attrs)
      child.obj[name] = ARRAYS.has(name) ? [child.attrs[name]] : child.attrs[name]
  } else {
    const keys = Object.keys(child.obj)
    if (keys.length === 1 && child.obj['#text'] !== undefined) val = child.obj['#text']
    else if (keys.length === 0) val = ''
  }
  const name = child.name
  const existing = hasOwn.call(parent, name) ? parent[name] : undefined
  if (existing !== undefined) {
    if (Array.isArray(existing)) existing.push(val)
    else parent[name] = [existing, val]
  } else parent[name] = ARRAYS.has(name) ? [val] : val
}
