import { ACTIONS } from '../core/event.ts'
import { shortNetworkId } from '../core/trust/index.ts'
import { type Html, html, page } from './html.ts'

/**
 * Whose portal this is: the hospital's node name and the network's id (its short form, the
 * whole id on hover), so a user who typed another hospital's address sees it before signing in.
 */
function portalBanner(node: string, networkId: string): Html {
  return html`<dl id="portal-of" class="who"><dt>Hospital</dt><dd id="portal-node">${node}</dd>
<dt>Network</dt><dd><code id="portal-network" title="${networkId}">${shortNetworkId(networkId)}</code></dd></dl>
<p>Accounts of ${node} (name@${node}) sign in here; an account of another hospital signs in at that hospital's portal.</p>`
}

/** The prototype's sign-in page: username, password and user type. */
export function loginPage(node: string, networkId: string): string {
  return page(
    'Log in',
    'login',
    html`<h1>Log in to ${node}</h1>
${portalBanner(node, networkId)}
<form id="login-form" novalidate>
  <p><label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required placeholder="anish@${node}"></p>
  <p><label for="password">Password</label>
  <input id="password" type="password" autocomplete="current-password" required></p>
  <fieldset><legend>User type</legend>
  <label><input type="radio" name="usertype" value="patient" checked> Patient</label>
  <label><input type="radio" name="usertype" value="auditor"> Audit company</label>
  </fieldset>
  <p><button type="submit">Log in</button></p>
  <p id="message" role="alert" aria-live="polite"></p>
</form>
<p>No account yet? <a href="/register">Register</a></p>`,
    { node },
  )
}

export function registerPage(node: string, networkId: string): string {
  return page(
    'Register',
    'register',
    html`<h1>Register at ${node}</h1>
${portalBanner(node, networkId)}
<form id="register-form" novalidate>
  <p><label for="name">Name</label>
  <input id="name" name="name" autocomplete="name" required></p>
  <p><label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required placeholder="anish@${node}"></p>
  <p><label for="password">Password</label>
  <input id="password" type="password" autocomplete="new-password" required minlength="8"></p>
  <p><label><input id="auditor" name="auditor" type="checkbox"> Audit Company
  (an admin of ${node} must approve the account before it can see any log)</label></p>
  <p id="code-row"><label for="enrollment-code">Enrollment code (patients: from your hospital's admin)</label>
  <input id="enrollment-code" name="enrollmentCode" autocomplete="off"></p>
  <p><button type="submit">Register</button></p>
  <p id="message" role="alert" aria-live="polite"></p>
</form>
<p>Already registered? <a href="/login">Log in</a></p>`,
    { node },
  )
}

export interface HomeUser {
  username: string
  name: string
  role: string
  status: string
  /** The patient id for patients; the username otherwise. */
  userId: string
}

const FILTERS = [
  ['patient', 'Patient id'],
  ['actor', 'Actor (user id)'],
  ['action', 'Action'],
  ['resource', 'Table affected in EHR'],
  ['from', 'From (ISO time, UTC)'],
  ['to', 'To (ISO time, UTC)'],
] as const

function concat(parts: Html[]): Html {
  return { html: parts.map((p) => p.html).join('') }
}

/** The auditors' filters: free text, except the action, one of the event schema's. */
function filterFields(): Html {
  return concat(
    FILTERS.map(([field, label]) =>
      field === 'action'
        ? html`<p><label for="f-action">${label}</label> <select id="f-action" name="action"><option value="">any</option>${concat(ACTIONS.map((a) => html`<option value="${a}">${a}</option>`))}</select></p>`
        : html`<p><label for="f-${field}">${label}</label> <input id="f-${field}" name="${field}"></p>`,
    ),
  )
}

/** The report's columns (browser/report-view.ts COLUMNS fills them, in this order). */
const REPORT_COLUMNS = [
  ['When', 'when'],
  ['Who', 'who'],
  ['What', 'what'],
  ['Data', 'data'],
  ['Where (hospital)', 'where'],
  ['Patient', 'patient'],
  ['Notes', 'notes'],
  ['Entry', 'entry'],
] as const

/** One section of the access report: a heading, a table filled by the script, "Show older". */
function reportSection(id: string, heading: string, intro: string, patient: boolean): Html {
  const head = concat(
    REPORT_COLUMNS.filter(([, key]) => !patient || key !== 'patient').map(
      ([label, key]) => html`<th scope="col" class="col-${key}">${label}</th>`,
    ),
  )
  return html`<section aria-labelledby="${id}-h"><h3 id="${id}-h">${heading}</h3>
<p class="intro">${intro}</p>
<div class="scroll"><table id="${id}" class="report"><caption>loading…</caption>
<thead><tr>${head}</tr></thead><tbody></tbody></table></div>
<p class="no-print"><button type="button" class="older" data-for="${id}" hidden>Show older</button></p></section>`
}

/**
 * The signed-in home page: who, what is verified, and the access report (EHDS Annex II 3.2:
 * who, what, when, where), in two sections filled by the script, with its downloads.
 */
export function homePage(node: string, user: HomeUser): string {
  const pending = user.status !== 'active'
  const patient = user.role === 'patient'
  const logs: Html = pending
    ? html`<p id="pending" class="notice" role="status">Your account is ${user.status}: an admin of ${node} must approve it before you can see any log.</p>`
    : html`<section aria-labelledby="integrity-h"><h2 id="integrity-h">What is verified</h2>
<p id="integrity" role="status" aria-live="polite">verifying…</p>
<ul id="failures"></ul>
<p id="completeness" data-state="not-checked"></p>
<p id="network">Network <code id="network-id">…</code>: <span id="network-note">checking…</span></p></section>
${
  patient
    ? html``
    : html`<section aria-labelledby="filter-h" class="no-print"><h2 id="filter-h">Filter</h2>
<form id="filter-form" method="get" action="/home">${filterFields()}<p><button type="submit">Apply</button> <a href="/home">Clear</a></p></form></section>`
}
<section aria-labelledby="logs-h" id="report"><h2 id="logs-h">${patient ? 'Who accessed your record' : 'Access report'}</h2>
<p id="report-zone"></p>
<nav aria-label="Report sections" class="no-print"><a id="jump-accesses" href="#accesses-h">${patient ? 'Accesses to your record' : 'Accesses to records'}</a> · <a id="jump-views" href="#views-h">${patient ? 'Who looked at your audit trail' : 'Views of the audit log'}</a></nav>
<p id="loaded" role="status"></p>
<p class="no-print"><button type="button" id="load-more" hidden>Load more from the node</button></p>
<div id="downloads" class="no-print" hidden><h3 id="downloads-h">Download this report</h3>
<ul aria-labelledby="downloads-h"><li><button type="button" id="print">Print or save as PDF</button></li>
<li><a id="download-csv" href="#">Spreadsheet (CSV)</a></li>
<li><a id="download-bundle" href="#">Offline bundle for <code>ehrlog verify-bundle</code></a></li></ul></div>
${reportSection(
  'accesses',
  patient ? 'Accesses to your record' : 'Accesses to records',
  patient
    ? 'Who opened, changed, printed or exported your health data, as each hospital’s EHR reported it.'
    : 'What the hospitals’ EHR systems reported.',
  patient,
)}
${reportSection(
  'views',
  patient ? 'Who looked at your audit trail' : 'Views of the audit log',
  patient
    ? 'Searches of this access history (yours included) and reads of single entries, as the nodes recorded them.'
    : 'Searches of the log and reads of single entries with their proofs.',
  patient,
)}</section>`
  return page(
    'Home',
    'home',
    html`<h1>Welcome, ${user.name}</h1>
<dl class="who"><dt>Username</dt><dd id="me-username">${user.username}</dd>
<dt>User id</dt><dd id="me-userid">${user.userId}</dd>
<dt>Role</dt><dd id="me-role">${user.role}</dd></dl>
<p class="no-print"><button id="logout" type="button">Log out</button></p>
${logs}`,
    {
      node,
      role: user.role,
      status: user.status,
      username: user.username,
      ...(patient ? { patient: user.userId } : {}),
    },
  )
}

export function logoutPage(): string {
  // A button, not an automatic logout: a link from another site must not end the session.
  return page(
    'Log out',
    'logout',
    html`<h1>Log out</h1><p><button id="logout" type="button">Log out</button></p><p id="message" role="status"></p><p><a href="/home">Back to home</a></p>`,
  )
}
