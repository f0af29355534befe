/** Private network statistics (docs/architecture.md, "Private network statistics"). */

export * from './anchor.ts'
export * from './bsgs.ts'
export * from './bundle.ts'
export * from './counters.ts'
export * from './decryption.ts'
export * from './dkg.ts'
export * from './elgamal.ts'
export * from './group.ts'
export * from './period.ts'
export * from './policy.ts'
export * from './stats-entry.ts'
