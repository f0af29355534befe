import type { z } from 'zod'

/**
 * The first problem zod found, as the dotted field it concerns ("http.port", "listen.0") and a
 * message that names it, so CLI and HTTP errors say which field to fix.
 */
export function describeSchemaIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]
  if (!issue) return { field: '', message: 'invalid' }
  const path = issue.path.map(String)
  if (issue.code === 'unrecognized_keys') {
    const field = [...path, issue.keys[0] ?? ''].join('.')
    return { field, message: `${field} is not a known field` }
  }
  const field = path.join('.')
  return { field, message: `${field || '(root)'}: ${issue.message}` }
}
