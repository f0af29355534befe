import type { KdfParams } from '../core/auth/password-key.ts'
import type { Role } from '../core/auth/session-token.ts'
import { homeOf, type UserRecord, userRecordSchema } from '../core/auth/user-record.ts'
import { fromHex } from '../core/hex.ts'

export type UserStatus = 'pending' | 'active' | 'revoked'

export interface UserState {
  username: string
  name: string
  role: Role
  status: UserStatus
  publicKey: Uint8Array
  kdf: KdfParams
  /** Patients only, once bound by an enrollment code. */
  patientId: string | undefined
}

interface Enrollment {
  patientId: string
  expiresMs: number
  home: string
  used: boolean
}

/**
 * Every node's view of every user, folded from the user records in all feeds (in feed
 * order). A record counts only in its subject's home feed. Auditors and admins start
 * pending; an approval counts only from an active admin of the same home (or, for the
 * first admin of a node, its own bootstrap approval, which only `ehrlog user create` writes).
 */
export class UserDirectory {
  readonly #users = new Map<string, UserState>()
  readonly #endedSessions = new Set<string>()
  readonly #enrollments = new Map<string, Enrollment>()

  /** Applies one user record from `origin`'s feed; ignores what breaks the rules above. */
  apply(origin: string, body: unknown): void {
    const parsed = userRecordSchema.safeParse(body)
    if (!parsed.success) return
    const record: UserRecord = parsed.data
    const subject = 'username' in record ? record.username : record.by
    if (record.op !== 'end-session' && homeOf(subject) !== origin) return
    switch (record.op) {
      case 'register': {
        if (this.#users.has(record.username)) return // first registration wins
        this.#users.set(record.username, {
          username: record.username,
          name: record.name,
          role: record.role,
          status: record.role === 'patient' ? 'active' : 'pending',
          publicKey: fromHex(record.publicKey, 32)!,
          kdf: record.kdf,
          patientId: undefined,
        })
        return
      }
      case 'approve': {
        const user = this.#users.get(record.username)
        if (user?.status !== 'pending') return
        const bootstrap =
          record.by === record.username && user.role === 'admin' && !this.#hasActiveAdmin(origin)
        if (this.isActiveAdmin(record.by) || bootstrap) user.status = 'active'
        return
      }
      case 'enroll':
        if (this.isActiveAdmin(record.by)) {
          this.#enrollments.set(record.codeHash, {
            patientId: record.patientId,
            expiresMs: record.expiresMs,
            home: origin,
            used: false,
          })
        }
        return
      case 'bind': {
        const user = this.#users.get(record.username)
        const enrollment = this.#enrollments.get(record.codeHash)
        if (
          user?.role !== 'patient' ||
          !enrollment ||
          enrollment.used ||
          enrollment.home !== origin
        )
          return
        if (enrollment.patientId !== record.patientId) return
        enrollment.used = true
        user.patientId = record.patientId
        return
      }
      case 'revoke': {
        const user = this.#users.get(record.username)
        if (user && (this.isActiveAdmin(record.by) || record.by === record.username))
          user.status = 'revoked'
        return
      }
      case 'password': {
        const user = this.#users.get(record.username)
        if (user && user.status !== 'revoked')
          Object.assign(user, { publicKey: fromHex(record.publicKey, 32)!, kdf: record.kdf })
        return
      }
      case 'end-session':
        this.#endedSessions.add(record.sid)
        return
    }
  }

  get(username: string): UserState | undefined {
    return this.#users.get(username)
  }

  isSessionEnded(sid: string): boolean {
    return this.#endedSessions.has(sid)
  }

  /** An unused, unexpired enrollment code of `home`, by the SHA-256 of the code. */
  enrollment(codeHash: string, home: string, nowMs: number): { patientId: string } | undefined {
    const e = this.#enrollments.get(codeHash)
    return e && !e.used && e.home === home && e.expiresMs > nowMs
      ? { patientId: e.patientId }
      : undefined
  }

  isActiveAdmin(username: string): boolean {
    const user = this.#users.get(username)
    return user?.role === 'admin' && user.status === 'active'
  }

  #hasActiveAdmin(home: string): boolean {
    for (const user of this.#users.values())
      if (homeOf(user.username) === home && user.role === 'admin' && user.status === 'active')
        return true
    return false
  }

  get size(): number {
    return this.#users.size
  }
}
