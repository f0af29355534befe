export {
  AtnaIngest,
  type SyslogConfig,
  type SyslogTlsConfig,
  type SyslogUdpConfig,
} from './atna-part.ts'
export { eventsOfAuditMessage } from './audit-message.ts'
export { OctetFramer } from './octet-framer.ts'
export { ParsePool } from './parse-pool.ts'
export {
  type ReconcileInput,
  type ReconcileReport,
  reconcile,
  type Unmatched,
} from './reconcile.ts'
export { type MessageOutcome, SenderCounts, type SenderTally } from './sender-counts.ts'
export { SyslogListener, type SyslogListenerOptions } from './syslog-listener.ts'
export { parseSyslogMessage, type SyslogMessage } from './syslog-message.ts'
export { UDP_NOT_ALLOWED, UDP_OTHER, UdpListener, type UdpListenerOptions } from './udp-listener.ts'
