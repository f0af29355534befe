// The store's write-path steps one by one, in one thread, for two checkouts side by side
// (issue 17): ValueCipher.seal of an entry record and of a posting, and
// Indexes.addBatchOps of a 200-event batch into a sink that only collects (no LevelDB, no
// sealing). Interleaved in one process, so machine load hits both alike; CPU time of this
// thread per call.
//   node --import tsx scripts/bench/store-write-parts.ts OLD_ROOT NEW_ROOT
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const roots = process.argv.slice(2).map((r) => resolve(r))
const load = async (root: string) => {
  const mod = (p: string) => import(pathToFileURL(join(root, p)).href)
  return {
    root,
    ValueCipher: (await mod('node/store/format/value-cipher.ts')).ValueCipher,
    Indexes: (await mod('node/store/write/indexes.ts')).Indexes,
    parseEvent: (await mod('node/core/event.ts')).parseEvent,
  }
}
const trees = await Promise.all(roots.map(load))
const valueKey = randomBytes(32)
const indexKey = randomBytes(32)
const entryRecord = randomBytes(2200)
const posting = randomBytes(8)
const key = randomBytes(17)
const events = Array.from({ length: 200 }, (_, i) => ({
  seq: 1000 + i,
  event: trees[0]!.parseEvent({
    patientId: `P${(i * 7919) % 10_000}`,
    actorId: `dr-${i % 50}`,
    action: 'read',
    resource: 'Patient Number',
    time: '2026-12-01T09:30:00.000Z',
  }),
}))
const tag = randomBytes(8)

function cpu(fn: () => void, n: number): number {
  const t = process.cpuUsage()
  for (let i = 0; i < n; i++) fn()
  const u = process.cpuUsage(t)
  return (u.user + u.system) / n
}

const results = new Map<string, number[]>()
const record = (name: string, v: number) => {
  const list = results.get(name) ?? []
  list.push(v)
  results.set(name, list)
}
for (let round = 0; round < 7; round++) {
  for (const t of round % 2 ? [...trees].reverse() : trees) {
    const cipher = new t.ValueCipher(valueKey)
    const indexes = new t.Indexes(indexKey)
    let sink = 0
    const collect = {
      putPlain: (_k: Buffer, v: Uint8Array) => (sink += v.byteLength),
      putKeyOnly: (k: Buffer) => (sink += k.byteLength),
    }
    indexes.addBatchOps(collect, tag, { events, userSeqs: [] }) // blinds cached, as in a running node
    record(
      `${t.root} seal 2.2 KiB`,
      cpu(() => cipher.seal(key, entryRecord), 40_000),
    )
    record(
      `${t.root} seal 8 B`,
      cpu(() => cipher.seal(key, posting), 40_000),
    )
    record(
      `${t.root} addBatchOps per event`,
      cpu(() => indexes.addBatchOps(collect, tag, { events, userSeqs: [] }), 1_000) / 200,
    )
  }
}
for (const [name, vs] of results) {
  const sorted = [...vs].sort((a, b) => a - b)
  console.log(
    `${name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} µs (min ${sorted[0]!.toFixed(2)})`,
  )
}
