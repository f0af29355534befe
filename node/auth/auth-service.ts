import { createHash, createHmac, type KeyObject, randomBytes, sign } from 'node:crypto'
import {
  checkKdfParams,
  DEFAULT_KDF,
  isLoginSignatureValid,
  type KdfParams,
} from '../core/auth/password-key.ts'
import {
  encodeSessionToken,
  type Role,
  type SessionClaims,
  verifySessionToken,
} from '../core/auth/session-token.ts'
import { homeOf, USERNAME_PATTERN, type UserRecord } from '../core/auth/user-record.ts'
import { verifyEntryBody } from '../core/body.ts'
import { EhrlogError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/hex.ts'
import { loginMessage } from '../core/layout.ts'
import { FailureLimiter, type LoginLimits } from './failure-limiter.ts'
import type { UserDirectory, UserState } from './user-directory.ts'

export interface Challenge {
  node: string
  username: string
  nonce: string
  expiresMs: number
  kdf: KdfParams
}

export interface AuthServiceOptions {
  /** This node's name: the home of the users it registers, the issuer of its sessions. */
  node: string
  /** The node's Ed25519 key, which signs its sessions (domain-separated from tree heads). */
  signingKey: KeyObject
  /** Members' Ed25519 keys: sessions of every member are accepted. */
  memberKey: (node: string) => Uint8Array | undefined
  directory: UserDirectory
  /** A node secret: decoy salts for unknown usernames stay the same across restarts. */
  secret: Uint8Array
  /** Appends user records to this node's feed (durable and replicated) and applies them. */
  append: (records: UserRecord[]) => Promise<void>
  sessionTtlMs?: number
  challengeTtlMs?: number
  /** Failed-login limits (DEFAULT_LOGIN_LIMITS unless set). */
  loginLimits?: Partial<LoginLimits>
  now?: () => number
}

/** The prototype's message, for every failed login: it tells nothing about which part was wrong. */
export const LOGIN_FAILED =
  'Username-password combination is wrong for your user type: try logging in again'

/**
 * Sign-in without the password on the wire (docs/auth.md): a challenge names this node, the
 * user, a fresh nonce and an expiry; the device signs it with the password-derived key; the
 * node checks that signature against the key in the user's record, once (the nonce is
 * consumed, so a captured transcript cannot be replayed), and issues a session every member
 * accepts. An unknown username gets a challenge that looks the same (a decoy salt derived
 * from a node secret), and fails the same way.
 */
export class AuthService {
  readonly #opts: AuthServiceOptions
  readonly #challenges = new Map<string, { username: string; expiresMs: number }>()
  readonly #failures: FailureLimiter

  constructor(opts: AuthServiceOptions) {
    this.#opts = opts
    this.#failures = new FailureLimiter(opts.loginLimits)
  }

  get directory(): UserDirectory {
    return this.#opts.directory
  }

  #now(): number {
    return this.#opts.now?.() ?? Date.now()
  }

  challenge(username: string): Challenge {
    const name = checkUsername(username)
    const expiresMs = this.#now() + (this.#opts.challengeTtlMs ?? 60_000)
    const nonce = toHex(randomBytes(32))
    this.#sweep()
    if (this.#challenges.size > 100_000)
      throw new EhrlogError('RATE_LIMITED', 'too many logins in progress: retry in a minute')
    this.#challenges.set(nonce, { username: name, expiresMs })
    const user = this.#opts.directory.get(name)
    return {
      node: this.#opts.node,
      username: name,
      nonce,
      expiresMs,
      kdf: user?.kdf ?? this.#decoyKdf(name),
    }
  }

  /** Checks a signed challenge; returns a session token. Every failure reads the same. */
  login(
    username: string,
    nonce: string,
    signatureHex: string,
    client: string,
  ): { token: string; claims: SessionClaims } {
    const name = checkUsername(username)
    // Only the home node signs its accounts in: a session it issued for another node's account
    // would be refused everywhere (iss must be home(sub), core/auth/session-token.ts).
    if (homeOf(name) !== this.#opts.node)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `sign in to ${name} at its home node ${homeOf(name)}, not at ${this.#opts.node}`,
        { details: { field: 'username' } },
      )
    this.#failures.assertAllowed(name, client, this.#now())
    const pending = this.#challenges.get(nonce)
    this.#challenges.delete(nonce) // single use, whatever happens next
    const user = this.#opts.directory.get(name)
    const signature = fromHex(signatureHex, 64)
    const nonceBytes = fromHex(nonce, 32)
    const ok =
      pending !== undefined &&
      pending.username === name &&
      pending.expiresMs > this.#now() &&
      user !== undefined &&
      user.status !== 'revoked' &&
      signature !== undefined &&
      nonceBytes !== undefined &&
      isLoginSignatureValid(
        user.publicKey,
        loginMessage(this.#opts.node, name, nonceBytes, pending.expiresMs),
        signature,
      )
    if (!ok) {
      this.#failures.fail(name, client, this.#now())
      throw new EhrlogError('UNAUTHORIZED', LOGIN_FAILED, { details: { field: 'login' } })
    }
    this.#failures.succeed(name, client)
    return this.#issue(user)
  }

  #issue(user: UserState): { token: string; claims: SessionClaims } {
    const now = this.#now()
    const claims: SessionClaims = {
      v: 1,
      sub: user.username,
      role: user.role,
      ...(user.patientId !== undefined ? { patientId: user.patientId } : {}),
      iss: this.#opts.node,
      sid: toHex(randomBytes(16)),
      iat: now,
      exp: now + (this.#opts.sessionTtlMs ?? 8 * 3600_000),
    }
    const token = encodeSessionToken(
      claims,
      (message) => new Uint8Array(sign(null, message, this.#opts.signingKey)),
    )
    return { token, claims }
  }

  /**
   * The session behind a token, as of now: signed by a member, not expired, not ended by a
   * logout anywhere, the user not revoked. The role and patient binding are read again from
   * the directory (an approval or binding after login counts at once; a revocation too).
   */
  authenticate(token: string | undefined): SessionClaims & { status: UserState['status'] } {
    if (!token)
      throw new EhrlogError('UNAUTHORIZED', 'log in first: no session', {
        details: { field: 'session' },
      })
    const claims = verifySessionToken(token, this.#opts.memberKey, this.#now())
    if (this.#opts.directory.isSessionEnded(claims.sid)) {
      throw new EhrlogError('UNAUTHORIZED', 'this session was ended (logged out): log in again', {
        details: { field: 'session', reason: 'ended' },
      })
    }
    const user = this.#opts.directory.get(claims.sub)
    if (!user || user.status === 'revoked') {
      throw new EhrlogError('UNAUTHORIZED', 'this account was revoked', {
        details: { field: 'session', reason: 'revoked' },
      })
    }
    return {
      ...claims,
      role: user.role,
      ...(user.patientId !== undefined ? { patientId: user.patientId } : {}),
      status: user.status,
    }
  }

  async logout(claims: SessionClaims): Promise<void> {
    await this.#opts.append([{ op: 'end-session', sid: claims.sid, username: claims.sub }])
  }

  /** A new account at this node; patients with an enrollment code are bound to their patient id. */
  async register(input: {
    username: string
    name: string
    role: Role
    publicKey: string
    kdf: KdfParams
    enrollmentCode?: string
  }): Promise<UserState> {
    const username = checkUsername(input.username)
    if (homeOf(username) !== this.#opts.node) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `register ${username} at its home node ${homeOf(username)}, not at ${this.#opts.node}`,
        { details: { field: 'username' } },
      )
    }
    if (!fromHex(input.publicKey, 32))
      throw new EhrlogError('ARGUMENT_INVALID', 'publicKey is not 32 bytes of hex', {
        details: { field: 'publicKey' },
      })
    checkKdfParams(input.kdf)
    if (this.#opts.directory.get(username)) {
      throw new EhrlogError('ARGUMENT_INVALID', `username ${username} is taken`, {
        details: { field: 'username' },
      })
    }
    const records: UserRecord[] = [
      {
        op: 'register',
        username,
        name: input.name,
        role: input.role,
        publicKey: input.publicKey,
        kdf: input.kdf,
      },
    ]
    if (input.enrollmentCode !== undefined) {
      if (input.role !== 'patient')
        throw new EhrlogError('ARGUMENT_INVALID', 'enrollment codes are for patient accounts', {
          details: { field: 'enrollmentCode' },
        })
      records.push(this.#bindRecord(username, input.enrollmentCode))
    }
    // What peers would refuse must not enter the feed: a rejected record stalls its replication.
    for (const record of records) verifyEntryBody('user', record, this.#opts.node)
    await this.#opts.append(records)
    return this.#opts.directory.get(username)!
  }

  /**
   * Binds the signed-in patient account to its patient id with an enrollment code: the same
   * `bind` record registration writes, for a patient who registered without a code. Only at
   * the account's home node (peers take user records only from it), once per account.
   */
  async bind(session: SessionClaims, enrollmentCode: string): Promise<UserState> {
    const username = session.sub
    if (homeOf(username) !== this.#opts.node)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `enter the code at ${homeOf(username)}, the home node of ${username}, not at ${this.#opts.node}`,
        { details: { field: 'session', home: homeOf(username) } },
      )
    const user = this.#opts.directory.get(username)
    if (user?.role !== 'patient')
      throw new EhrlogError('FORBIDDEN', 'only patient accounts are bound to a patient id', {
        details: { field: 'session' },
      })
    if (user.patientId !== undefined)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `${username} is bound already (patient id ${user.patientId}): a code binds an account once`,
        { details: { field: 'enrollmentCode', reason: 'bound' } },
      )
    const record = this.#bindRecord(username, enrollmentCode)
    verifyEntryBody('user', record, this.#opts.node)
    await this.#opts.append([record])
    return this.#opts.directory.get(username)!
  }

  /** The `bind` record for an unused, unexpired code of this node, or ARGUMENT_INVALID. */
  #bindRecord(username: string, enrollmentCode: string): UserRecord {
    const codeHash = hashCode(enrollmentCode)
    const enrollment = this.#opts.directory.enrollment(codeHash, this.#opts.node, this.#now())
    if (!enrollment)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        'the enrollment code is unknown, used or expired: ask your hospital for a new one',
        { details: { field: 'enrollmentCode' } },
      )
    return { op: 'bind', username, patientId: enrollment.patientId, codeHash }
  }

  /** Creates an account as the hospital's own tooling: an active admin when none exists yet. */
  async bootstrapAdmin(input: {
    username: string
    name: string
    publicKey: string
    kdf: KdfParams
  }): Promise<UserState> {
    await this.register({ ...input, role: 'admin' })
    await this.#opts.append([{ op: 'approve', username: input.username, by: input.username }])
    return this.#opts.directory.get(input.username)!
  }

  async approve(admin: SessionClaims, username: string): Promise<UserState> {
    this.#requireAdmin(admin)
    const user = this.#requireLocalUser(username)
    if (user.status !== 'pending')
      throw new EhrlogError('ARGUMENT_INVALID', `${username} is ${user.status}, not pending`, {
        details: { field: 'username' },
      })
    await this.#opts.append([{ op: 'approve', username, by: admin.sub }])
    return user
  }

  /** A one-time code (valid 7 days) that binds the patient account registered with it to `patientId`. */
  async enroll(
    admin: SessionClaims,
    patientId: string,
    validMs = 7 * 24 * 3600_000,
  ): Promise<{ code: string; expiresMs: number }> {
    this.#requireAdmin(admin)
    if (patientId.trim() === '' || patientId.length > 128)
      throw new EhrlogError('ARGUMENT_INVALID', 'patientId must be 1 to 128 characters', {
        details: { field: 'patientId' },
      })
    // '*' is the subject of query records not about one patient (node/query/scope.ts): an
    // account bound to it would read every such record.
    if (patientId.trim() === '*')
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        "patientId '*' is reserved (query records not about one patient): name one patient",
        { details: { field: 'patientId' } },
      )
    const code = randomBytes(12).toString('base64url')
    const expiresMs = this.#now() + validMs
    await this.#opts.append([
      { op: 'enroll', codeHash: hashCode(code), patientId, expiresMs, by: admin.sub },
    ])
    return { code, expiresMs }
  }

  /**
   * Clears the failed-login limits of an account of this node (an admin, after checking with
   * the user); returns whether there were any. Limits of client addresses stay.
   */
  unlock(admin: SessionClaims, username: string): boolean {
    this.#requireAdmin(admin)
    this.#requireLocalUser(username)
    return this.#failures.unlock(username)
  }

  async revoke(admin: SessionClaims, username: string): Promise<void> {
    this.#requireAdmin(admin)
    this.#requireLocalUser(username)
    await this.#opts.append([{ op: 'revoke', username, by: admin.sub }])
  }

  #requireAdmin(claims: SessionClaims): void {
    if (homeOf(claims.sub) !== this.#opts.node || !this.#opts.directory.isActiveAdmin(claims.sub)) {
      throw new EhrlogError(
        'FORBIDDEN',
        `only an approved admin of ${this.#opts.node} can do this`,
        { details: { field: 'session' } },
      )
    }
  }

  #requireLocalUser(username: string): UserState {
    const name = checkUsername(username)
    const user = this.#opts.directory.get(name)
    if (!user || homeOf(name) !== this.#opts.node) {
      throw new EhrlogError('NOT_FOUND', `no user ${name} at ${this.#opts.node}`, {
        details: { field: 'username' },
      })
    }
    return user
  }

  #decoyKdf(username: string): KdfParams {
    const salt = createHmac('sha256', this.#opts.secret)
      .update(`decoy-salt\0${username}`)
      .digest()
      .subarray(0, 16)
    return { name: 'scrypt', salt: toHex(salt), ...DEFAULT_KDF }
  }

  #sweep(): void {
    const now = this.#now()
    for (const [nonce, c] of this.#challenges)
      if (c.expiresMs <= now) this.#challenges.delete(nonce)
  }
}

function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'username must be name@node, e.g. anish@hospital-c (lower case)',
      { details: { field: 'username' } },
    )
  }
  return username
}

function hashCode(code: string): string {
  return createHash('sha256').update(code.trim()).digest('hex')
}
