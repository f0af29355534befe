import { logOut, setUpHome } from './home.ts'
import { setUpLogin } from './login.ts'
import { setUpRegister } from './register.ts'

/** The portal's one script: what it does depends on the page (<body data-page>). */
function start(): void {
  const body = document.body
  const node = body.dataset.node ?? ''
  switch (body.dataset.page) {
    case 'login':
      setUpLogin(node)
      break
    case 'register':
      setUpRegister(node)
      break
    case 'home':
      setUpHome(body)
      break
    case 'logout':
      document.getElementById('logout')?.addEventListener('click', () => {
        logOut().finally(() => location.assign('/login'))
      })
      break
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
else start()
