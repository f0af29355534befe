import { access } from 'node:fs/promises'
import { EhrlogError } from '../node/core/errors.ts'

/** ARGUMENT_INVALID when `path` exists and `force` is not set: an output is never overwritten silently. */
export async function refuseToOverwrite(path: string, force: boolean | undefined): Promise<void> {
  if (force) return
  const exists = await access(path).then(
    () => true,
    () => false,
  )
  if (exists)
    throw new EhrlogError('ARGUMENT_INVALID', `${path} exists; add --force to overwrite it`, {
      details: { field: 'out' },
    })
}
