import { randomBytes } from 'node:crypto'
import { link, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Writes `data` so that `path` either does not exist or holds all of it, even after a crash:
 * write a temporary file with its final mode, fsync it, move it into place, fsync the folder.
 * With `noClobber`, an existing `path` is never replaced: the move is a hard link, which fails
 * with EEXIST atomically (a rename would silently overwrite a file created meanwhile).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { mode: number; noClobber?: boolean },
): Promise<void> {
  const dir = dirname(path)
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  // 'wx': the temporary name is fresh, so never follow or reuse someone else's file.
  const handle = await open(temp, 'wx', options.mode)
  try {
    // open's mode is masked by the umask; set the exact mode before any byte is written.
    await handle.chmod(options.mode)
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(temp, { force: true })
    throw err
  }
  await handle.close()
  try {
    if (options.noClobber) {
      await link(temp, path)
      await rm(temp, { force: true })
    } else {
      await rename(temp, path)
    }
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  await syncDirectory(dir)
}

// The rename/link is durable only once the folder's entry is on disk. Some platforms (Windows)
// cannot open a folder for fsync; there the rename is as durable as the OS makes it.
export async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err
  } finally {
    await handle?.close()
  }
}
