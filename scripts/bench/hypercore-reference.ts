// Reference figures from hypercore (issue 3 asks for them beside ehrlog's, measured in the
// same run): append throughput in batches of 1,000 blocks of ~300 bytes, and in-process
// replication of a core's blocks to a second core (two replication streams piped together).
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// @ts-expect-error hypercore ships no type declarations
import Hypercore from 'hypercore'

/** The part of hypercore's API used here (README of hypercore 11). */
interface Core {
  readonly key: Uint8Array
  readonly length: number
  readonly contiguousLength: number
  ready(): Promise<void>
  append(blocks: Uint8Array[]): Promise<{ length: number }>
  get(index: number): Promise<Uint8Array | null>
  replicate(isInitiator: boolean): NodeJS.ReadWriteStream & { destroy(): void }
  download(range: { start: number; end: number }): { done(): Promise<void> }
  close(): Promise<void>
  on(event: 'download', listener: () => void): void
}
const openCore = (dir: string, key?: Uint8Array): Core =>
  new (Hypercore as new (dir: string, key?: Uint8Array) => Core)(dir, key)

const BLOCK_BYTES = 300
const BATCH = 1000

export interface HypercoreFigures {
  /** Blocks appended per second, BATCH blocks per append() call. */
  appendPerSecond: number
  /** Blocks per second a second core downloads from the first, in one process. */
  replicatePerSecond: number
  /** CPU of this process per replicated block (both cores' work): µs. */
  replicateCpuPerBlockUs: number
  blocks: number
}

/** Appends `blocks` blocks to a fresh core, then replicates them to a second core. */
export async function benchHypercore(blocks: number): Promise<HypercoreFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'ehrlog-bench-hypercore-'))
  const cores: Core[] = []
  const streams: Array<{ destroy(): void }> = []
  try {
    const source = openCore(join(dir, 'source'))
    cores.push(source)
    await source.ready()
    // A pool of distinct blocks, cycled: making buffers is not what is timed.
    const pool = Array.from({ length: 16 }, () =>
      Array.from({ length: BATCH }, () => randomBytes(BLOCK_BYTES)),
    )
    const t0 = performance.now()
    for (let done = 0, b = 0; done < blocks; done += BATCH, b++)
      await source.append(pool[b % pool.length]!.slice(0, Math.min(BATCH, blocks - done)))
    const appendPerSecond = blocks / ((performance.now() - t0) / 1000)
    if (source.length !== blocks) throw new Error(`hypercore holds ${source.length} blocks`)

    const replica = openCore(join(dir, 'replica'), source.key)
    cores.push(replica)
    await replica.ready()
    const cpu = process.cpuUsage()
    const t1 = performance.now()
    const a = source.replicate(true)
    const b = replica.replicate(false)
    streams.push(a, b)
    a.pipe(b).pipe(a)
    await replica.download({ start: 0, end: blocks }).done()
    const replicatePerSecond = blocks / ((performance.now() - t1) / 1000)
    const { user, system } = process.cpuUsage(cpu)
    const last = await replica.get(blocks - 1)
    if (replica.contiguousLength !== blocks || !last || last.byteLength !== BLOCK_BYTES)
      throw new Error(`hypercore replica holds ${replica.contiguousLength} of ${blocks} blocks`)
    return {
      appendPerSecond,
      replicatePerSecond,
      replicateCpuPerBlockUs: (user + system) / blocks,
      blocks,
    }
  } finally {
    for (const s of streams) s.destroy()
    for (const c of cores) await c.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

// Run alone (this file or its bundle), not when bundled into dist/bench/index.mjs, where
// import.meta.url is the bundle's own.
if (process.argv[1]?.match(/\/hypercore-reference\.(ts|mjs)$/)) {
  console.log(await benchHypercore(Number(process.env.BLOCKS ?? 100_000)))
}
