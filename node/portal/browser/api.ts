/** JSON requests to this node. The session travels in the HttpOnly cookie, never in script. */
export interface ApiError {
  code?: string
  message?: string
  details?: Record<string, unknown>
}

export interface ApiResult<T> {
  ok: boolean
  status: number
  body: T & { error?: ApiError }
}

export async function postJson<T>(path: string, body: unknown): Promise<ApiResult<T>> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  })
  return { ok: response.ok, status: response.status, body: await bodyOf<T>(response) }
}

export async function getJson<T>(path: string): Promise<ApiResult<T>> {
  const response = await fetch(path, { credentials: 'same-origin' })
  return { ok: response.ok, status: response.status, body: await bodyOf<T>(response) }
}

async function bodyOf<T>(response: Response): Promise<ApiResult<T>['body']> {
  const text = await response.text()
  try {
    return (text === '' ? {} : JSON.parse(text)) as ApiResult<T>['body']
  } catch {
    return {} as ApiResult<T>['body']
  }
}

/** user@node from what was typed: a bare name gets this node's name. */
export function fullUsername(typed: string, node: string): string {
  const name = typed.trim().toLowerCase()
  return name.includes('@') ? name : `${name}@${node}`
}
