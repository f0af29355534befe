import { deriveLoginKey, type KdfParams, signLoginChallenge } from '../../core/auth/password-key.ts'
import { fromHex, toHex } from '../../core/hex.ts'
import { loginMessage } from '../../core/layout.ts'
import { type ApiError, fullUsername, postJson } from './api.ts'

/** The prototype's message, for every failure: it says nothing about which part was wrong. */
export const LOGIN_FAILED =
  'Username-password combination is wrong for your user type — try logging in again'

interface Challenge {
  node: string
  nonce: string
  expiresMs: number
  kdf: KdfParams
}

/**
 * Signs in: the password stays in this page. It derives the login key (scrypt), signs the
 * node's challenge, and the node answers with an HttpOnly session cookie. A role other than
 * the chosen user type fails like a wrong password, after logging the session out again.
 */
export function setUpLogin(node: string): void {
  const form = document.getElementById('login-form') as HTMLFormElement
  const message = document.getElementById('message') as HTMLElement
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    const username = fullUsername(String(data.get('username') ?? ''), node)
    // The password input has no name: were the script to fail, a plain form submit would
    // leave it out, so it can only ever go through the key derivation.
    const password = (document.getElementById('password') as HTMLInputElement).value
    const userType = String(data.get('usertype') ?? 'patient')
    message.className = ''
    message.textContent = 'Signing in…'
    signIn(username, password, userType)
      .then((outcome) => {
        if (outcome === 'ok') location.assign('/home')
        else if (outcome === 'failed') message.textContent = LOGIN_FAILED
        else showRefusal(message, outcome, username, node)
      })
      .catch(() => {
        message.textContent = LOGIN_FAILED
      })
  })
}

/** Why the node refused before any password was involved: its own words, safe to show. */
interface Refusal {
  message: string
  /** Another hospital's account: its home node, and that node's portal when this node knows it. */
  home?: string
  portal?: string
}

/**
 * The node's reason, with a link to the right hospital's portal. The reasons shown are those
 * that tell nothing about the account: another hospital's username (its `@node` says that),
 * and a rate limit, which counts failures whether or not the account exists.
 */
function showRefusal(message: HTMLElement, refusal: Refusal, username: string, node: string): void {
  if (refusal.home === undefined) {
    message.textContent = refusal.message
    return
  }
  message.textContent = `${username} is an account of ${refusal.home}, and this is the portal of ${node}: sign in at ${refusal.home}'s portal`
  if (refusal.portal !== undefined && /^https?:\/\//.test(refusal.portal)) {
    const link = document.createElement('a')
    link.id = 'home-portal'
    link.href = `${refusal.portal.replace(/\/+$/, '')}/login`
    link.textContent = link.href
    message.append(', ', link, '.')
  } else {
    message.append(` (${node} does not know its address: ask ${refusal.home}).`)
  }
}

type Outcome = 'ok' | 'failed' | Refusal

async function signIn(username: string, password: string, userType: string): Promise<Outcome> {
  const challenge = await postJson<Challenge>('/api/v1/auth/challenge', { username })
  if (!challenge.ok) return refusalOf(challenge.body.error)
  const c = challenge.body
  const nonce = fromHex(c.nonce, 32)
  if (!nonce) return 'failed'
  const key = deriveLoginKey(username, password, c.kdf)
  const signature = signLoginChallenge(key, loginMessage(c.node, username, nonce, c.expiresMs))
  const login = await postJson<{ claims: { role: string } }>('/api/v1/auth/login', {
    username,
    nonce: c.nonce,
    signature: toHex(signature),
    cookie: true,
  })
  if (!login.ok) return refusalOf(login.body.error)
  if (login.body.claims.role !== userType) {
    await postJson('/api/v1/auth/logout', {}).catch(() => {})
    return 'failed'
  }
  return 'ok'
}

/** A wrong password, an unknown account and anything unexpected all read LOGIN_FAILED. */
function refusalOf(error: ApiError | undefined): Outcome {
  const details = error?.details ?? {}
  if (error?.code === 'ARGUMENT_INVALID' && typeof details.home === 'string')
    return {
      message: error.message ?? '',
      home: details.home,
      ...(typeof details.portal === 'string' ? { portal: details.portal } : {}),
    }
  if (error?.code === 'RATE_LIMITED' && error.message) return { message: error.message }
  return 'failed'
}
