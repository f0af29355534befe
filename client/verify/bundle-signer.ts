import { z } from 'zod'
import { AUTH_PATHS } from '../../node/api/index.ts'
import { deriveLoginKey, type KdfParams } from '../../node/core/auth/password-key.ts'
import { homeOf, type UserRecord } from '../../node/core/auth/user-record.ts'
import {
  type BundleManifest,
  type BundleSignature,
  signBundleManifest,
} from '../../node/core/bundle-manifest.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { toHex } from '../../node/core/hex.ts'
import type { MembershipHistory } from '../../node/core/trust/index.ts'
import { type QueryAnswerJson, verifyQueryAnswer } from '../../node/core/trust/index.ts'
import type { CliContext } from '../context.ts'
import { callNode } from '../node-client.ts'
import { readPassword } from '../password-prompt.ts'
import { loadSession, type SavedSession, sessionHeaders } from '../session-store.ts'
import { followNode } from './membership-trust.ts'

/*
 * The "created by" of an export bundle: signed with the exporting account's login key, which
 * the CLI never stores (the session file holds only the session token). `export --sign` asks
 * for the password again and derives the key as `ehrlog login` does; `verify-bundle --node`
 * checks the key against the account's user records, as the network replicated them.
 */

const kdfAnswer = z.object({
  kdf: z.object({
    name: z.literal('scrypt'),
    salt: z.string(),
    N: z.number(),
    r: z.number(),
    p: z.number(),
  }),
})

/** Asks for the account's password, before the export's pages (as login asks first). */
export function askBundlePassword(
  ctx: CliContext,
  session: SavedSession,
  fromStdin: boolean,
): Promise<string> {
  return readPassword(ctx, {
    prompt: `password for ${session.username} (signs the bundle): `,
    fromStdin,
  })
}

/** Signs `manifest` as the session's account: derives the login key from `password`. */
export async function signAsAccount(
  session: SavedSession,
  manifest: BundleManifest,
  password: string,
): Promise<BundleSignature> {
  // The key's salt and cost come from the account's home node (the challenge answer).
  const parsed = kdfAnswer.safeParse(
    await callNode({ url: session.node, token: undefined }, 'POST', AUTH_PATHS.challenge, {
      username: session.username,
    }),
  )
  if (!parsed.success)
    throw new EhrlogError(
      'UNAVAILABLE',
      `${session.node} gave no key parameters for ${session.username}`,
    )
  const key = deriveLoginKey(session.username, password, parsed.data.kdf as KdfParams)
  try {
    return {
      username: session.username,
      publicKey: toHex(key.publicKey),
      signature: signBundleManifest(manifest, key.seed),
    }
  } finally {
    key.seed.fill(0)
  }
}

/** What the network's user records say about a signing key. */
export type KeyStanding =
  | { verified: true; record: string; current: boolean; revoked: boolean }
  | { verified: false; reason: string }

/**
 * Looks `publicKey` up in `username`'s user records (register and password changes) at a
 * node, with the saved session (an auditor or admin: user records are not a patient's).
 * The answer is verified like any query answer (proofs, cosigned checkpoint) before use.
 */
export async function keyStandingOf(
  ctx: CliContext,
  pinned: MembershipHistory,
  nodeUrl: string,
  username: string,
  publicKey: string,
): Promise<KeyStanding> {
  const session = await loadSession(ctx)
  const filter = { kind: 'user', origin: homeOf(username) } as const
  // The node's checkpoint may name a newer membership version: its changes, checked first.
  const history = await followNode(ctx, pinned, {
    url: nodeUrl.replace(/\/+$/, ''),
    token: undefined,
  })
  const trust = { keys: history.current.keys, history, filter }
  const keys: { key: string; record: string }[] = []
  let revoked = false
  let cursor: string | undefined
  for (let page = 0; page < 100; page++) {
    const query = new URLSearchParams({ ...filter, limit: '1000', ...(cursor ? { cursor } : {}) })
    const answer = await callNode<QueryAnswerJson>(
      { url: nodeUrl.replace(/\/+$/, ''), token: undefined },
      'GET',
      `/api/v1/query?${query}`,
      undefined,
      sessionHeaders(session),
    )
    const result = verifyQueryAnswer(answer, { ...trust, ...(cursor ? { cursor } : {}) })
    if (result.failures.length > 0)
      return {
        verified: false,
        reason: `the user records from ${nodeUrl} do not verify: ${result.failures[0]!.reason}`,
      }
    for (const v of result.verified) {
      const r = v.entry.entry.body as UserRecord
      if (!('username' in r) || r.username !== username) continue
      if (r.op === 'register' || r.op === 'password') keys.push({ key: r.publicKey, record: v.id })
      if (r.op === 'revoke') revoked = true
    }
    cursor = answer.next
    if (!cursor) break
  }
  const found = keys.find((k) => k.key === publicKey)
  if (!found) return { verified: false, reason: `no user record of ${username} holds this key` }
  return { verified: true, record: found.record, current: keys.at(-1)!.key === publicKey, revoked }
}
