/**
 * The files of a node folder. config.json is written last by init and read first by open, so a
 * folder without it is not (yet) a node, whatever else it holds.
 */
export const NODE_FILES = {
  config: 'config.json',
  /** Public: what hospitals exchange to assemble network.json. */
  identity: 'identity.json',
  /** Secret (0600): the master secret; absent when a passphrase derives it. */
  masterKey: 'master.key',
  /** Secret (0600): the private keys, encrypted under a key derived from the master secret. */
  keys: 'keys.enc',
  /** Secret (0600): the network's VRF key for the per-patient index, the same in every member's folder. */
  indexKey: 'index.key',
  /** Public: MACs of the BLS proofs of possession already verified (proven-keys.ts). */
  provenKeys: 'proven-bls-keys',
  /** The LevelDB store (node/store), reserved here so init refuses a folder that has one. */
  dataDir: 'db',
} as const

/** Files whose presence means the folder was initialized; init never overwrites them. */
export const INIT_MARKERS = [
  NODE_FILES.config,
  NODE_FILES.masterKey,
  NODE_FILES.keys,
  NODE_FILES.identity,
] as const

export const SECRET_FILE_MODE = 0o600
export const PUBLIC_FILE_MODE = 0o644

/** The network's membership, the same file in every member's folder (`ehrlog network init`). */
export const NETWORK_FILE = 'network.json'

/** Where a running node says it can be reached (runtime-info.ts); removed on stop. */
export const RUNTIME_FILE = 'node.json'
