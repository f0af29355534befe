import { getJson, postJson } from './api.ts'

interface WhoAmI {
  role: string
  patientId?: string
  node: string
}

/**
 * The enrollment form of the home page, for a signed-in patient whose account is not bound to
 * a patient id yet (registered without a code): POST /api/v1/users/bind with the session
 * cookie, then the page reloads as the bound patient. Shown only after whoami says so, so a
 * bound patient, an auditor or an admin never sees it.
 */
export async function mountEnrollForm(body: HTMLElement): Promise<void> {
  if (body.dataset.role !== 'patient') return
  const me = await getJson<WhoAmI>('/api/v1/auth/whoami')
  if (!me.ok || me.body.role !== 'patient' || me.body.patientId !== undefined) return
  const anchor = document.querySelector('main dl.who')
  if (!anchor) return
  anchor.after(enrollSection(me.body.node))
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props)
  e.append(...children)
  return e
}

function enrollSection(node: string): HTMLElement {
  const input = element('input', {
    id: 'enroll-code',
    name: 'enrollmentCode',
    autocomplete: 'off',
    required: true,
  })
  const message = element('p', { id: 'enroll-message' })
  message.setAttribute('role', 'alert')
  message.setAttribute('aria-live', 'polite')
  const button = element('button', { type: 'submit' }, 'Link my account')
  const form = element(
    'form',
    { id: 'enroll-form', noValidate: true },
    element('p', {}, element('label', { htmlFor: 'enroll-code' }, 'Enrollment code'), input),
    element('p', {}, button),
    message,
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const code = input.value.trim()
    if (code === '') {
      message.textContent = `Enter the enrollment code ${node}'s admin gave you.`
      return
    }
    button.disabled = true
    message.textContent = 'Linking…'
    postJson<{ patientId: string }>('/api/v1/users/bind', { enrollmentCode: code })
      .then((r) => {
        if (!r.ok) {
          button.disabled = false
          message.textContent = `Not linked: ${r.body.error?.message ?? `HTTP ${r.status}`}`
          return
        }
        message.textContent = `Linked to patient id ${r.body.patientId}. Loading your record…`
        location.reload()
      })
      .catch(() => {
        button.disabled = false
        message.textContent = 'Not linked: the node did not answer. Try again.'
      })
  })
  const section = element(
    'section',
    { id: 'enroll' },
    element('h2', { id: 'enroll-h' }, 'Link your account to your record'),
    element(
      'p',
      { className: 'notice' },
      `Your account is not linked to a patient record yet, so there is no access log to show. Enter the enrollment code from ${node}'s admin: it links this account to your record, once.`,
    ),
    form,
  )
  section.setAttribute('aria-labelledby', 'enroll-h')
  return section
}
