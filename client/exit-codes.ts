import type { ErrorCode } from '../node/core/errors.ts'

/** Process exit codes of the `ehrlog` command (README, "Exit codes"). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  verifyFailed: 3,
  keys: 4,
  state: 5,
  network: 6,
  access: 7,
} as const

export function exitCodeOf(code: ErrorCode): number {
  switch (code) {
    case 'EVENT_INVALID':
    case 'ENTRY_INVALID':
    case 'ARGUMENT_INVALID':
    case 'CONFIG_INVALID':
    case 'FILE_INVALID':
    case 'PAYLOAD_TOO_LARGE':
    case 'IDEMPOTENCY_CONFLICT':
    case 'MESSAGE_INVALID':
      return EXIT.usage
    case 'INVALID_SIGNATURE':
    case 'INVALID_PROOF':
    case 'CHAIN_BROKEN':
    case 'SEQ_MISMATCH':
    case 'EQUIVOCATION':
    case 'SIGNER_UNKNOWN':
    case 'QUORUM_NOT_MET':
    case 'CHANGE_REPLAYED':
    case 'CHANGE_OUT_OF_ORDER':
    case 'MEMBER_CONFLICT':
    case 'MEMBERSHIP_UNKNOWN':
    case 'STORE_CORRUPT':
      return EXIT.verifyFailed
    case 'KEY_FILE_INVALID':
    case 'PASSPHRASE_WRONG':
    case 'PASSPHRASE_REQUIRED':
      return EXIT.keys
    case 'ALREADY_INITIALIZED':
    case 'NOT_INITIALIZED':
    case 'STORE_LOCKED':
    case 'STORE_CLOSED':
    case 'NOT_FOUND':
    case 'ORIGIN_UNKNOWN':
      return EXIT.state
    case 'UNAVAILABLE':
    case 'RATE_LIMITED':
      return EXIT.network
    case 'UNAUTHORIZED':
    case 'FORBIDDEN':
      return EXIT.access
    case 'INTERNAL':
      return EXIT.internal
  }
}

/** One line of advice per code, printed under the error. */
export function hintFor(code: ErrorCode): string | undefined {
  switch (code) {
    case 'EVENT_INVALID':
      return 'fix the named field; `ehrlog append --help` lists the fields and actions'
    case 'ALREADY_INITIALIZED':
      return 'this folder already holds a node; pick another --dir (nothing was overwritten)'
    case 'NOT_INITIALIZED':
      return 'create the node first: ehrlog init --dir DIR --name NAME'
    case 'STORE_LOCKED':
      return 'a node runs on this folder: `ehrlog verify --dir DIR`, `ehrlog log --dir DIR` and `ehrlog status --dir DIR` go through it while it runs (is its DIR/node.json missing?); `ehrlog query --node URL` asks it directly; or stop it'
    case 'PASSPHRASE_REQUIRED':
      return 'set EHRLOG_PASSPHRASE to the passphrase the node was created with'
    case 'PASSPHRASE_WRONG':
      return 'check EHRLOG_PASSPHRASE; nothing was read or written'
    case 'KEY_FILE_INVALID':
      return 'restore master.key / keys.enc from your backup; the node cannot decrypt its data without them'
    case 'STORE_CORRUPT':
      return 'a node repairs a damaged replica from its peers: retry later, or ask another node with --node; on your own node folder, `ehrlog verify --dir DIR` names the damaged entries'
    case 'RATE_LIMITED':
      return 'wait as long as the message says, then run it again (a node limits the queries each user may run a minute, and how many it serves at once)'
    case 'QUORUM_NOT_MET':
      return 'more members must sign it: `ehrlog network sign FILE --dir NODE_DIR` on each; `ehrlog network show` lists who signed'
    case 'CHANGE_OUT_OF_ORDER':
      return 'pass the proposal files of the changes before it with --changes; `ehrlog network show` lists the versions'
    case 'CHANGE_REPLAYED':
      return 'the membership moved past the version this proposal was made on: propose the change again on the current version'
    default:
      return undefined
  }
}
