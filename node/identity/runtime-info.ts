import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RUNTIME_FILE } from './files.ts'

/** Where a running node says it can be reached: DIR/node.json, removed on stop. */
export interface RuntimeInfo {
  pid: number
  name: string
  http: string
  addresses: string[]
}

/** The runtime file of a running node, if one is running in `dir`. */
export async function readRuntimeInfo(dir: string): Promise<RuntimeInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(join(dir, RUNTIME_FILE), 'utf8')) as RuntimeInfo
    process.kill(info.pid, 0) // throws when no such process: a stale file from a crash
    return info
  } catch {
    return undefined
  }
}
