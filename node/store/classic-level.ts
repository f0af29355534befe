import { createRequire } from 'node:module'
import type { ClassicLevel } from 'classic-level'

export type { ClassicLevel }

const require = createRequire(import.meta.url)
let loaded: typeof ClassicLevel | undefined

/**
 * The classic-level package, loaded on first use rather than when the CLI starts: importing
 * it (a CommonJS package, scanned for its exports, with its native binding) cost ~60 ms of
 * CPU in every `ehrlog` process, also in commands that open no store (`ehrlog stats verify`,
 * `--version`).
 */
export function classicLevel(): typeof ClassicLevel {
  loaded ??= (require('classic-level') as typeof import('classic-level')).ClassicLevel
  return loaded
}
