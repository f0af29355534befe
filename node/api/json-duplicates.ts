/** An object key that appears twice, with the path of its object (`events[3]`, '' at the top). */
export interface DuplicateKey {
  key: string
  path: string
}

interface Frame {
  /** Keys seen so far in an object; undefined for an array. */
  keys: Set<string> | undefined
  path: string
  /** The key whose value is being read (objects) or the next index (arrays). */
  member: string | number
  expectKey: boolean
}

/**
 * The first duplicate object key in `text`, which must already be valid JSON (JSON.parse
 * accepted it). Keys are compared after unescaping (`"a"` and `"\u0061"` are the same key).
 * One pass, no recursion: nesting depth cannot overflow the stack.
 */
export function duplicateKeyOf(text: string): DuplicateKey | undefined {
  const stack: Frame[] = []
  const childPath = (f: Frame | undefined) =>
    f === undefined
      ? ''
      : typeof f.member === 'number'
        ? `${f.path}[${f.member}]`
        : f.path
          ? `${f.path}.${f.member}`
          : f.member
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    const top = stack.at(-1)
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string
        if (top.keys.has(key)) return { key, path: top.path }
        top.keys.add(key)
        top.member = key
        top.expectKey = false
      }
      i = j
    } else if (c === '{' || c === '[') {
      stack.push({
        keys: c === '{' ? new Set() : undefined,
        path: childPath(top),
        member: c === '{' ? '' : 0,
        expectKey: c === '{',
      })
    } else if (c === '}' || c === ']') {
      stack.pop()
    } else if (c === ',' && top) {
      if (top.keys) top.expectKey = true
      else top.member = (top.member as number) + 1
    }
  }
  return undefined
}
