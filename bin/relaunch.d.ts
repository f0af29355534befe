type Env = Record<string, string | undefined>
/** glibc's mmap threshold `ehrlog node start` runs a node with (bin/relaunch.js). */
export const MMAP_THRESHOLD: string
/** jemalloc's MALLOC_CONF for a node, unless one is set. */
export const JEMALLOC_CONF: string
export function jemallocPath(env?: Env): string | undefined
export function allocatorEnv(env?: Env): Record<string, string>
export function nodeProcessEnv(env?: Env): Env
export function thresholdUnset(env?: Env, platform?: string): boolean
export function relaunches(args: readonly string[], env?: Env, platform?: string): boolean
export function relaunch(): Promise<number>
