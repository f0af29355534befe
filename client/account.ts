import type { z } from 'zod'
import { USERNAME_PATTERN } from '../node/core/auth/user-record.ts'
import { EhrlogError } from '../node/core/errors.ts'
import { readRuntimeInfo } from '../node/identity/index.ts'
import { type NodeEndpoint, pinOf } from './node-client.ts'

/* What the account commands (register, login, whoami, user) share. */

/**
 * The node an account command talks to: --node URL, or the node running in --dir. Never with
 * the EHR's API token: sign-in routes do not need it, so it is not sent.
 */
export async function accountEndpoint(opts: {
  node?: string
  dir?: string
}): Promise<NodeEndpoint> {
  if (opts.node) {
    let protocol = ''
    try {
      protocol = new URL(opts.node).protocol
    } catch {
      // not a URL at all: refused below like any other scheme
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `--node ${JSON.stringify(opts.node.slice(0, 100))} is not an http(s) URL`,
        { details: { field: 'node' } },
      )
    return { url: opts.node.replace(/\/+$/, ''), token: undefined }
  }
  if (!opts.dir)
    throw new EhrlogError('ARGUMENT_INVALID', 'give --node URL (a running node) or --dir DIR', {
      details: { field: 'node' },
    })
  const running = await readRuntimeInfo(opts.dir)
  if (!running)
    throw new EhrlogError(
      'UNAVAILABLE',
      `no node is running in ${opts.dir}: start it (ehrlog node start --dir ${opts.dir}) or give --node URL`,
    )
  return { url: running.http, token: undefined, ...(await pinOf(opts.dir, running.http)) }
}

/** A username as typed, checked before anything is asked or sent. */
export function checkUsernameArgument(username: string): string {
  if (!USERNAME_PATTERN.test(username))
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `username ${JSON.stringify(username.slice(0, 100))} must be name@node, e.g. anish@hospital-c (lower case)`,
      { details: { field: 'username' } },
    )
  return username
}

/** A node's answer in the shape wanted, or UNAVAILABLE saying which answer was not. */
export function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success)
    throw new EhrlogError(
      'UNAVAILABLE',
      `the node's ${what} answer is not what ehrlog expects (${parsed.error.issues[0]?.path.join('.') || 'body'}): is it an ehrlog node of this version?`,
    )
  return parsed.data
}
