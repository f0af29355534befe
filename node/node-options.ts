import type { Incident } from './alerts/index.ts'
import type { IndexView } from './index/index-view.ts'
import type { IntegrityIncident, RetiredKeyIncident } from './integrity/index.ts'
import type { Logger } from './logger.ts'
import type { StatsNodeOptions } from './stats/stats-config.ts'
import type { LogStore } from './store/index.ts'

/** What starting a node takes besides its folder: logging, timings, and observers (tests, tools). */
export interface NodeOptions {
  dir: string
  passphrase?: string
  logger: Logger
  /** Mean anti-entropy sync period (default 5000 ms). */
  syncIntervalMs?: number
  /** Time between scheduled checkpoint rounds; 0: only on demand (default 10,000 ms). */
  checkpointIntervalMs?: number
  /** Also told of every incident the node reports to its admins (tests, tools). */
  onIncident?: (incident: Incident) => void
  /** Retry period of queued alert emails (default 30 s). */
  alertRetryMs?: number
  /** Time between scheduled scrubs of the replica; 0: only at start (default 10 min). */
  scrubIntervalMs?: number
  /**
   * How long start() waits for peers to restore an own feed shorter than the cosigned
   * checkpoint (default 15 s). Appends stay refused until it is whole, however long.
   */
  tailWaitMs?: number
  /** Told of each incident the integrity service reports (modified, deleted, equivocation, …). */
  onIntegrityIncident?: (incident: IntegrityIncident) => void
  /**
   * Told of each head refused as signed by a retired (rotated-out or removed) key; the same
   * incident (kind `rotated-out-key`) also reaches onIntegrityIncident and the alerts.
   */
  onRetiredKey?: (incident: RetiredKeyIncident) => void
  /**
   * Opens the own-feed fence at start without a quorum, for this reason (logged at warn and
   * recorded as an entry): a new network's first start, or members gone for good.
   */
  overrideFence?: string
  /** How long an ingest request waits for the fence before it is stored pending (default 2000 ms). */
  fenceWaitMs?: number
  /**
   * Makes the per-patient index from the store and the network's VRF secret key (default:
   * IndexPart over IndexService). Tests put in a damaged ReferenceIndexView.
   */
  indexView?: (store: LogStore, vrfSecretKey: Uint8Array) => IndexView
  /** The private statistics' timings (and test faults): node/stats. */
  stats?: StatsNodeOptions
}
