import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { AuthService } from '../auth/index.ts'
import { homeOf } from '../core/auth/user-record.ts'
import { EhrlogError } from '../core/errors.ts'
import { backupChunks, type LogStore } from '../store/index.ts'
import { requireActiveSession } from './session.ts'

export const BACKUP_PATH = '/api/v1/backup'

export interface BackupRouteOptions {
  store: LogStore
  auth: AuthService
  node: string
}

/**
 * GET /api/v1/backup: a consistent copy of this node's store (node/store/backup-file.ts), for
 * an active admin of this node (`Authorization: Session`, from `ehrlog login`). The copy holds
 * sealed values only: no secret, and no plaintext patient data.
 */
export async function backupRoute(scope: FastifyInstance, opts: BackupRouteOptions): Promise<void> {
  scope.get(BACKUP_PATH, async (request, reply) => {
    const session = requireActiveSession(request, opts.auth)
    if (session.role !== 'admin' || homeOf(session.sub) !== opts.node)
      throw new EhrlogError(
        'FORBIDDEN',
        `${session.sub} is not an admin of ${opts.node}: only its admins take its backups`,
        { details: { field: 'session' } },
      )
    reply.header('content-type', 'application/octet-stream')
    reply.header('content-disposition', `attachment; filename="${opts.node}.ehrlog-backup"`)
    return reply.send(Readable.from(backupChunks(opts.store)))
  })
}
