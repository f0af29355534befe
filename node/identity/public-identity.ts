import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EhrlogError } from '../core/errors.ts'
import { type PublicIdentity, publicIdentitySchema } from '../core/trust/index.ts'
import { NODE_FILES } from './files.ts'
import { describeSchemaIssue } from './schema-issue.ts'

/** Parses untrusted identity.json content; throws FILE_INVALID naming the field. */
export function parsePublicIdentity(
  value: unknown,
  source: string = NODE_FILES.identity,
): PublicIdentity {
  const result = publicIdentitySchema.safeParse(value)
  if (!result.success) {
    const { field, message } = describeSchemaIssue(result.error)
    throw new EhrlogError('FILE_INVALID', `${source}: ${message}`, {
      details: { field, file: source },
      cause: result.error,
    })
  }
  return result.data
}

/** Reads DIR/identity.json. NOT_INITIALIZED if absent, FILE_INVALID if malformed. */
export async function readPublicIdentity(dir: string): Promise<PublicIdentity> {
  const path = join(dir, NODE_FILES.identity)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EhrlogError('NOT_INITIALIZED', `${path} does not exist; run ehrlog init`, {
        details: { dir },
        cause: err,
      })
    }
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new EhrlogError('FILE_INVALID', `${NODE_FILES.identity} is not valid JSON`, {
      details: { file: NODE_FILES.identity },
      cause: err,
    })
  }
  return parsePublicIdentity(value)
}
