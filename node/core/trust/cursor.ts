import { entryId, parseEntryId } from '../entry.ts'
import { argumentError } from './filter.ts'

/** Answers are in (origin, seq) order; a position is where a page ends or the next begins. */
export interface Position {
  origin: string
  seq: number
}

export function comparePositions(a: Position, b: Position): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq
}

/** The opaque cursor of the next page: base64url of the entry id it continues after. */
export function encodeCursor(after: Position): string {
  return btoa(entryId(after.origin, after.seq))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/** Parses an untrusted cursor; ARGUMENT_INVALID (field `cursor`) if it is not one. */
export function decodeCursor(cursor: string): Position {
  let id: string | undefined
  try {
    if (/^[A-Za-z0-9_-]{1,200}$/.test(cursor))
      id = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'))
  } catch {}
  const position = id === undefined ? undefined : parseEntryId(id)
  if (!position) throw argumentError('cursor', 'is not a cursor this node gave out')
  return position
}
