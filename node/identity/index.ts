export {
  DEFAULT_LISTEN,
  type NodeConfig,
  type NodeConfigInput,
  nodeConfigSchema,
  parseNodeConfig,
  parseNodeConfigText,
} from './config.ts'
export { NODE_FILES } from './files.ts'
export { type InitNodeOptions, initNodeDir } from './init.ts'
export type { StoreKeys } from './master-key.ts'
export { type NodeIdentity, type OpenNodeOptions, openNodeDir } from './open.ts'
export { assertOwnEntry } from './own-entry.ts'
export { type BlsKeyProof, ProvenKeys } from './proven-keys.ts'
export {
  type PublicIdentity,
  parsePublicIdentity,
  publicIdentitySchema,
  readPublicIdentity,
} from './public-identity.ts'
