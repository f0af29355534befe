import { deriveLoginKey, type KdfParams, signLoginChallenge } from '../../core/auth/password-key.ts'
import { fromHex, toHex } from '../../core/hex.ts'
import { loginMessage } from '../../core/layout.ts'
import { fullUsername, postJson } from './api.ts'

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
      .then((ok) => {
        if (ok) location.assign('/home')
        else message.textContent = LOGIN_FAILED
      })
      .catch(() => {
        message.textContent = LOGIN_FAILED
      })
  })
}

async function signIn(username: string, password: string, userType: string): Promise<boolean> {
  const challenge = await postJson<Challenge>('/api/v1/auth/challenge', { username })
  if (!challenge.ok) return false
  const c = challenge.body
  const nonce = fromHex(c.nonce, 32)
  if (!nonce) return false
  const key = deriveLoginKey(username, password, c.kdf)
  const signature = signLoginChallenge(key, loginMessage(c.node, username, nonce, c.expiresMs))
  const login = await postJson<{ claims: { role: string } }>('/api/v1/auth/login', {
    username,
    nonce: c.nonce,
    signature: toHex(signature),
    cookie: true,
  })
  if (!login.ok) return false
  if (login.body.claims.role !== userType) {
    await postJson('/api/v1/auth/logout', {}).catch(() => {})
    return false
  }
  return true
}
