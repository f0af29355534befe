import { readFileSync } from 'node:fs'

export interface RssPeak {
  /** Highest RSS seen, MiB. */
  rssMiB: number
  /** At that moment: anonymous memory (heaps, buffers) and file pages mapped (the node
   * binary, LevelDB's mmapped tables), MiB; undefined where /proc is not there. */
  anonMiB?: number
  fileMiB?: number
  /** At that moment: the main thread's V8 heap, and the off-heap memory V8 knows of, MiB. */
  heapMiB?: number
  externalMiB?: number
  /** What the benchmark was doing then (`phase()`). */
  phase?: string
  /** Where resident memory was (mappingSummary) when RSS first passed `limitMiB`, if it did. */
  overLimit?: string[]
}

/**
 * Where this process's resident memory is, from /proc/self/smaps (Linux): glibc's main heap,
 * anonymous mappings by size (count and resident MiB: V8 pages, thread arenas, blocks malloc
 * mapped on their own), and file pages.
 */
function mappingSummary(): string[] {
  try {
    const groups = new Map<string, { count: number; kb: number }>()
    for (const block of readFileSync('/proc/self/smaps', 'utf8').split(
      /\n(?=[0-9a-f]+-[0-9a-f]+ )/,
    )) {
      const head = block.slice(0, block.indexOf('\n')).split(/\s+/)
      const [from, to] = (head[0] ?? '0-0').split('-').map((x) => Number.parseInt(x, 16))
      const sizeMiB = ((to ?? 0) - (from ?? 0)) / 2 ** 20
      const kb = Number(block.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0)
      const name = head[5]
      const group =
        name === '[heap]'
          ? '[heap]'
          : name?.startsWith('/')
            ? 'file pages'
            : name
              ? name
              : `anonymous ${sizeMiB < 1 ? '< 1' : sizeMiB < 4 ? '1-4' : sizeMiB < 64 ? '4-64' : '>= 64'} MiB`
      const g = groups.get(group) ?? { count: 0, kb: 0 }
      g.count++
      g.kb += kb
      groups.set(group, g)
    }
    return [...groups]
      .filter(([, g]) => g.kb >= 1024)
      .sort((x, y) => y[1].kb - x[1].kb)
      .map(([name, g]) => `${name}: ${g.count} mappings, ${(g.kb / 1024).toFixed(1)} MiB`)
  } catch {
    return []
  }
}

/** RssAnon / RssFile of this process from /proc (Linux), MiB. */
function rssParts(): { anonMiB?: number; fileMiB?: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1])
    return { anonMiB: kb('RssAnon') / 1024, fileMiB: kb('RssFile') / 1024 }
  } catch {
    return {}
  }
}

/**
 * Tracks the highest RSS while work runs, sampled every 20 ms, what it was made of, and in
 * which phase (the caller names phases as it enters them); and, the first time RSS passes
 * `limitMiB`, where the memory was.
 */
export function rssPeakSampler(limitMiB = Number.POSITIVE_INFINITY): {
  stop: () => RssPeak
  phase: (name: string) => void
} {
  let peak: RssPeak = { rssMiB: 0 }
  let phase = ''
  let overLimit: string[] | undefined
  const sample = () => {
    const m = process.memoryUsage()
    const rssMiB = m.rss / 2 ** 20
    if (rssMiB > limitMiB && !overLimit) overLimit = mappingSummary()
    if (rssMiB > peak.rssMiB)
      peak = {
        rssMiB,
        ...rssParts(),
        heapMiB: m.heapTotal / 2 ** 20,
        externalMiB: m.external / 2 ** 20,
        phase,
      }
  }
  sample()
  const timer = setInterval(sample, 20)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return { ...peak, ...(overLimit ? { overLimit } : {}) }
    },
    phase: (name) => {
      phase = name
    },
  }
}

export interface CpuTime {
  /** CPU seconds of the whole process (every thread, workers included). */
  processSeconds: number
  /** CPU seconds of the main (JavaScript) thread; undefined where /proc is not there. */
  mainSeconds?: number
}

/**
 * CPU time so far. Unlike wall time it barely moves when other processes compete for the
 * cores, so figures per entry stay comparable across runs on a shared machine.
 */
export function cpuTime(): CpuTime {
  const { user, system } = process.cpuUsage()
  let mainSeconds: number | undefined
  try {
    // Fields 14 and 15 of /proc/<pid>/task/<tid>/stat: utime and stime in clock ticks (100/s).
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    mainSeconds = (Number(fields[11]) + Number(fields[12])) / 100
  } catch {}
  return { processSeconds: (user + system) / 1e6, mainSeconds }
}

/** The malloc this process runs on: jemalloc when it is mapped in (bin/relaunch.js), else glibc's. */
export function allocatorInUse(): string {
  try {
    if (readFileSync('/proc/self/maps', 'utf8').includes('libjemalloc')) return 'jemalloc'
  } catch {}
  const threshold = process.env.MALLOC_MMAP_THRESHOLD_
  return `glibc malloc, mmap threshold ${threshold ?? 'dynamic (not set)'}`
}
