/** glibc's mmap threshold `ehrlog node start` runs a node with (bin/relaunch.js). */
export const MMAP_THRESHOLD: string
export function thresholdUnset(env?: Record<string, string | undefined>, platform?: string): boolean
export function relaunches(
  args: readonly string[],
  env?: Record<string, string | undefined>,
  platform?: string,
): boolean
export function relaunch(): Promise<number>
