import { deriveLoginKey, newKdfParams } from '../../core/auth/password-key.ts'
import { toHex } from '../../core/hex.ts'
import { fullUsername, postJson } from './api.ts'

/** Registers: the page derives the login key and sends only its public key and parameters. */
export function setUpRegister(node: string): void {
  const form = document.getElementById('register-form') as HTMLFormElement
  const message = document.getElementById('message') as HTMLElement
  const auditor = document.getElementById('auditor') as HTMLInputElement
  const codeRow = document.getElementById('code-row') as HTMLElement
  auditor.addEventListener('change', () => {
    codeRow.hidden = auditor.checked
  })
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    const username = fullUsername(String(data.get('username') ?? ''), node)
    // The password input has no name: were the script to fail, a plain form submit would
    // leave it out, so it can only ever go through the key derivation.
    const password = (document.getElementById('password') as HTMLInputElement).value
    const code = String(data.get('enrollmentCode') ?? '').trim()
    message.className = ''
    if (password.length < 8) {
      message.textContent = 'Choose a password of at least 8 characters.'
      return
    }
    message.textContent = 'Registering…'
    const kdf = newKdfParams()
    const key = deriveLoginKey(username, password, kdf)
    const role = auditor.checked ? 'auditor' : 'patient'
    postJson<{ username: string; status: string; note?: string }>('/api/v1/users/register', {
      username,
      name: String(data.get('name') ?? ''),
      role,
      publicKey: toHex(key.publicKey),
      kdf,
      ...(role === 'patient' && code !== '' ? { enrollmentCode: code } : {}),
    })
      .then((r) => {
        if (!r.ok) {
          message.textContent = `Registration failed: ${r.body.error?.message ?? `HTTP ${r.status}`}`
          return
        }
        message.className = 'ok'
        message.textContent =
          r.body.status === 'pending'
            ? `Registered ${r.body.username}. An admin of ${node} must approve the account before it can see any log.`
            : `Registered ${r.body.username}. You can log in now.`
        form.reset()
        // reset() unticks "Audit Company" without a change event: show the code field again
        // for the next registration.
        codeRow.hidden = auditor.checked
      })
      .catch(() => {
        message.textContent = 'Registration failed: the node did not answer. Try again.'
      })
  })
}
