import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { syncDirectory, writeFileAtomic } from '../fs/atomic-write.ts'

/**
 * The folders of DIR/alerts/:
 * - queue: rendered emails not yet handed to the SMTP server (retried until they are)
 * - sent: emails the SMTP server accepted
 * - outbox: emails delivered as files, because no SMTP server or no admin is configured
 * - known: one empty-ish marker per incident id ever reported (deduplication across restarts)
 * - unrecorded: alert bodies not yet appended to the node's own feed
 */
export const SPOOL_FOLDERS = ['queue', 'sent', 'outbox', 'known', 'unrecorded', 'folded'] as const
export type SpoolFolder = (typeof SPOOL_FOLDERS)[number]

// Emails carry entry ids and evidence: owner-only, like the rest of the node folder's secrets.
const FILE_MODE = 0o600
const FOLDER_MODE = 0o700

/** Crash-safe file moves between the alert folders: a file is in one folder, whole, or absent. */
export class AlertSpool {
  readonly root: string

  constructor(root: string) {
    this.root = root
  }

  /** Creates the folders and removes temporary files a crash left behind. */
  async open(): Promise<void> {
    for (const folder of SPOOL_FOLDERS) {
      const dir = join(this.root, folder)
      await mkdir(dir, { recursive: true, mode: FOLDER_MODE })
      for (const name of await readdir(dir)) {
        if (name.startsWith('.') && name.endsWith('.tmp'))
          await rm(join(dir, name), { force: true })
      }
    }
  }

  path(folder: SpoolFolder, name: string): string {
    return join(this.root, folder, name)
  }

  /** Temp file, fsync, rename, fsync the folder: after a crash the file is whole or absent. */
  write(folder: SpoolFolder, name: string, data: string | Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(folder, name), data, { mode: FILE_MODE })
  }

  async read(folder: SpoolFolder, name: string): Promise<Buffer> {
    return readFile(this.path(folder, name))
  }

  async exists(folder: SpoolFolder, name: string): Promise<boolean> {
    try {
      await stat(this.path(folder, name))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  /** Moves a file to another folder (same file system: an atomic rename), durably. */
  async move(from: SpoolFolder, to: SpoolFolder, name: string): Promise<void> {
    await rename(this.path(from, name), this.path(to, name))
    await syncDirectory(join(this.root, to))
    await syncDirectory(join(this.root, from))
  }

  async remove(folder: SpoolFolder, name: string): Promise<void> {
    await rm(this.path(folder, name), { force: true })
    await syncDirectory(join(this.root, folder))
  }

  /** File names of a folder, oldest first (modification time, then name); no temp files. */
  async list(folder: SpoolFolder): Promise<string[]> {
    const dir = join(this.root, folder)
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.'))
    const timed = await Promise.all(
      names.map(async (name) => {
        try {
          return { name, mtimeMs: (await stat(join(dir, name))).mtimeMs }
        } catch (err) {
          // Moved on between readdir and stat: no longer in this folder.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
          throw err
        }
      }),
    )
    return timed
      .filter((t) => t !== undefined)
      .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((t) => t.name)
  }
}
