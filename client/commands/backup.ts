import { createWriteStream } from 'node:fs'
import { access, appendFile, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { BACKUP_PATH } from '../../node/api/backup-route.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { NODE_FILES } from '../../node/identity/index.ts'
import { readRuntimeInfo } from '../../node/node.ts'
import { backupChunks, readBackup, writeBackupInto } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { withLocalNode } from '../local-node.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'
import {
  BACKUP_PASSPHRASE_ENV,
  backupPassphrase,
  openSecrets,
  sealSecrets,
} from './backup-secrets.ts'

/**
 * `ehrlog backup` and `ehrlog restore` (docs/architecture.md, "One history per origin"): a
 * consistent copy of a node's store, taken through the running node (an admin's session) or
 * from a stopped node's folder, and put back into a stopped node's folder.
 */
export function registerBackup(program: Command, ctx: CliContext): void {
  program
    .command('backup')
    .description(
      "copy a node's store to a file: through the running node (as its admin: ehrlog login first), or from a stopped node's folder; values stay sealed, no keys are copied",
    )
    .requiredOption('--dir <dir>', 'the node folder')
    .requiredOption('--out <file>', 'the backup file to write')
    .option('--force', 'overwrite --out if it exists')
    .option(
      '--with-secrets',
      `also the node's keys and config, encrypted under $${BACKUP_PASSPHRASE_ENV}`,
    )
    .action(async (opts: { dir: string; out: string; force?: boolean; withSecrets?: boolean }) => {
      const passphrase = opts.withSecrets ? backupPassphrase(ctx.env) : undefined
      if (!opts.force && (await exists(opts.out)))
        throw new EhrlogError(
          'ARGUMENT_INVALID',
          `${opts.out} exists: give --force to overwrite it`,
          {
            details: { field: 'out' },
          },
        )
      const partial = `${opts.out}.partial`
      const running = await readRuntimeInfo(opts.dir)
      try {
        if (running) {
          const session = await loadSession(ctx)
          const res = await fetch(`${running.http}${BACKUP_PATH}`, {
            headers: sessionHeaders(session),
          }).catch((cause: unknown) => {
            throw new EhrlogError('UNAVAILABLE', `cannot reach the node at ${running.http}`, {
              cause,
            })
          })
          if (!res.ok || !res.body) throw await refusal(res)
          await pipeline(Readable.fromWeb(res.body as never), createWriteStream(partial))
        } else {
          await withLocalNode(ctx, opts.dir, ({ store }) =>
            pipeline(Readable.from(backupChunks(store)), createWriteStream(partial)),
          )
        }
        readBackup(await readFile(partial)) // a copy that does not read back is no backup
        if (passphrase) await appendFile(partial, await sealSecrets(opts.dir, passphrase))
        await rename(partial, opts.out)
      } finally {
        await rm(partial, { force: true })
      }
      ctx.out(
        `backup of ${opts.dir} written to ${opts.out}${running ? ' (through the running node)' : ''}${passphrase ? ', with its secrets (encrypted)' : ''}\n`,
      )
    })

  program
    .command('restore')
    .description(
      "put a backup back into a stopped node's folder; on its next start the node pulls back from its members what it signed after the backup, before it appends",
    )
    .requiredOption('--in <file>', 'the backup file')
    .requiredOption('--dir <dir>', 'the node folder (its keys must be those of the backed-up node)')
    .option(
      '--force',
      'move an existing store aside (to db.before-restore-TIME) instead of refusing; replace differing secret files',
    )
    .option(
      '--with-secrets',
      `also put back the keys and config, decrypted with $${BACKUP_PASSPHRASE_ENV}`,
    )
    .action(async (opts: { in: string; dir: string; force?: boolean; withSecrets?: boolean }) => {
      if (await readRuntimeInfo(opts.dir))
        throw new EhrlogError('STORE_LOCKED', `the node in ${opts.dir} is running: stop it first`)
      const { records, trailer } = readBackup(await readFile(opts.in))
      if (opts.withSecrets) {
        const files = openSecrets(trailer, backupPassphrase(ctx.env))
        await restoreSecrets(opts.dir, files, opts.force === true)
        ctx.out(`restored ${[...files.keys()].join(', ')} into ${opts.dir}\n`)
      }
      const db = join(opts.dir, await dataDirOf(opts.dir))
      if (await exists(db)) {
        if (!opts.force)
          throw new EhrlogError(
            'ARGUMENT_INVALID',
            `${db} exists: give --force to move it aside and restore into a fresh store`,
            { details: { field: 'dir' } },
          )
        const aside = `${db}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`
        await rename(db, aside)
        ctx.out(`moved the existing store to ${aside}\n`)
      }
      await writeBackupInto(db, records)
      ctx.out(
        `restored ${records.length} records into ${db}; start the node with its members reachable: it appends once they told it its feed's tip\n`,
      )
    })
}

/** Writes the secret files, refusing to replace a differing one without `force`; all checked first. */
async function restoreSecrets(
  dir: string,
  files: ReadonlyMap<string, Buffer>,
  force: boolean,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  for (const [name, bytes] of files) {
    const current = await readFile(join(dir, name)).catch(() => undefined)
    if (current && !current.equals(bytes) && !force)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `${join(dir, name)} differs from the backup's: give --force to replace it`,
        { details: { field: 'dir' } },
      )
  }
  for (const [name, bytes] of files) {
    // config.json holds the API token: secret like the keys (the node refuses it readable).
    const secret = [
      NODE_FILES.masterKey,
      NODE_FILES.keys,
      NODE_FILES.config,
      NODE_FILES.indexKey,
    ].includes(name as never)
    const mode = secret ? 0o600 : 0o644
    await writeFile(join(dir, name), bytes, { mode })
    await chmod(join(dir, name), mode) // an existing file keeps its mode on write
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

async function dataDirOf(dir: string): Promise<string> {
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
      dataDir?: unknown
    }
    return typeof config.dataDir === 'string' ? config.dataDir : 'db'
  } catch (cause) {
    throw new EhrlogError(
      'NOT_INITIALIZED',
      `${dir} is not a node folder (no readable config.json)`,
      {
        cause,
      },
    )
  }
}

async function refusal(res: Response): Promise<EhrlogError> {
  const text = await res.text()
  try {
    const { error } = JSON.parse(text) as { error: { code: EhrlogError['code']; message: string } }
    return new EhrlogError(error.code, `the node refused the backup: ${error.message}`)
  } catch {
    return new EhrlogError('UNAVAILABLE', `the node answered ${res.status} to the backup request`)
  }
}
