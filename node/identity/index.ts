// identity.json's schema is core's: a verifier parses network.json's members with it.
export { type PublicIdentity, publicIdentitySchema } from '../core/trust/index.ts'
export {
  dialableAddresses,
  isLoopback,
  publishedAddresses,
  undialableReason,
} from './addresses.ts'
export {
  DEFAULT_LISTEN,
  type NodeConfig,
  type NodeConfigInput,
  nodeConfigSchema,
  parseNodeConfig,
  parseNodeConfigText,
} from './config.ts'
export { NETWORK_FILE, NODE_FILES, RUNTIME_FILE } from './files.ts'
export { newIndexKey, readIndexKeyFile, readNodeIndexKey, writeIndexKey } from './index-key.ts'
export { type InitNodeOptions, initNodeDir } from './init.ts'
export type { StoreKeys } from './master-key.ts'
export { type NodeIdentity, type OpenNodeOptions, openNodeDir } from './open.ts'
export { assertOwnEntry } from './own-entry.ts'
export { type BlsKeyProof, ProvenKeys } from './proven-keys.ts'
export { parsePublicIdentity, readPublicIdentity } from './public-identity.ts'
export { type RuntimeInfo, readRuntimeInfo } from './runtime-info.ts'
export { type SmtpConfig, type SmtpConfigInput, smtpConfigSchema } from './smtp-config.ts'
