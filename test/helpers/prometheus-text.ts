// A strict parser of the Prometheus text exposition format 0.0.4 (prometheus.io, "Exposition
// formats", text-based format), for tests: prom-client writes it but cannot read it. Any line
// that does not follow the format throws, so a test that parses a scrape also checks it.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface MetricFamily {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*'
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
/** Suffixes of a histogram's or a summary's samples (the spec's "_bucket", "_sum", "_count"). */
const SUFFIXES = ['_bucket', '_sum', '_count']

/** Families by name, in the order they appear. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>()
  let current: MetricFamily | undefined
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop() // the format ends each line, the last too, with \n
  for (const [i, line] of lines.entries()) {
    const fail = (why: string) => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`)
    }
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line)
      if (!meta) continue // a plain comment
      const [, keyword, name, rest] = meta as unknown as [string, string, string, string]
      let family = families.get(name)
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] }
        families.set(name, family)
      } else if (family.samples.length > 0) fail(`${keyword} after the samples of ${name}`)
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) fail(`unknown type ${rest}`)
        family.type = rest as MetricFamily['type']
      } else family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      current = family
      continue
    }
    const sample = parseSample(line, fail)
    let family = familyOf(sample.name, current)
    if (!family) {
      // No TYPE line: an untyped metric of its own. Each metric's lines form one group.
      if (families.has(sample.name)) fail(`samples of ${sample.name} not in one group`)
      family = { name: sample.name, type: 'untyped', help: '', samples: [] }
      families.set(sample.name, family)
      current = family
    }
    family.samples.push(sample)
  }
  return families
}

function familyOf(name: string, current: MetricFamily | undefined): MetricFamily | undefined {
  if (!current) return undefined
  if (name === current.name) return current
  if (current.type === 'histogram' || current.type === 'summary')
    for (const suffix of SUFFIXES) if (name === current.name + suffix) return current
  return undefined
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const head = new RegExp(`^(${NAME})`).exec(line)
  if (!head) fail('no metric name')
  const name = head![1]!
  let at = name.length
  const labels: Record<string, string> = {}
  if (line[at] === '{') {
    at++
    const pair = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`)
    while (line[at] !== '}') {
      const match = pair.exec(line.slice(at))
      if (!match) fail('malformed label')
      const [whole, label, escaped] = match! as unknown as [string, string, string]
      if (label in labels) fail(`label ${label} twice`)
      labels[label] = escaped.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
      at += whole.length
      if (line[at] === ',') at++
      else if (line[at] !== '}') fail('want , or } after a label')
    }
    at++
  }
  const rest = line.slice(at)
  const value = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest)
  if (!value) fail('want blanks, the value and an optional timestamp')
  return { name, labels, value: parseValue(value![1]!, fail) }
}

function parseValue(text: string, fail: (why: string) => never): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (text === 'NaN') return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(`value ${text} is not a float`)
  return Number(text)
}

/** The value of the sample `name` with exactly `labels`, or undefined. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values())
    for (const s of family.samples) {
      if (s.name !== name) continue
      const keys = Object.keys(s.labels)
      if (keys.length !== Object.keys(labels).length) continue
      if (keys.every((k) => s.labels[k] === labels[k])) return s.value
    }
  return undefined
}
