import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect } from 'vitest'
import { EhrlogError, type ErrorCode } from '../../node/core/errors.ts'

/** scrypt cost for tests: the smallest the keys file accepts, so passphrase tests stay fast. */
export const TEST_SCRYPT_N = 2 ** 10

/** A fresh folder under the OS temp dir, removed after each test of the calling file. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehrlog-identity-'))
    dirs.push(dir)
    return dir
  }
}

/** Awaits `promise`, expects it to reject with an EhrlogError of `code`, returns the error. */
export async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<EhrlogError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(EhrlogError)
  expect((err as EhrlogError).code, (err as Error).message).toBe(code)
  return err as EhrlogError
}

/** Every file of a folder (one level) and its bytes, to show nothing changed. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const file of (await readdir(dir)).sort()) {
    out[file] = (await readFile(join(dir, file))).toString('base64')
  }
  return out
}
