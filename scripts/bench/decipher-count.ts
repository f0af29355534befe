// Counts AES-GCM opens: node:crypto's createDecipheriv, wrapped (and the ES module exports
// synced) when this module is first loaded. Every stored value is opened with one call
// (node/store/format/value-cipher.ts). Import it before anything that loads the node's
// modules, and load those with import() after it, as fhir-kept.ts and trail-pages.ts do.
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'

let opens = 0
const createDecipheriv = crypto.createDecipheriv
crypto.createDecipheriv = ((...args: Parameters<typeof createDecipheriv>) => {
  opens++
  return createDecipheriv(...args)
}) as typeof createDecipheriv
syncBuiltinESMExports()

/** createDecipheriv calls since this module loaded. */
export function decipherOpens(): number {
  return opens
}
