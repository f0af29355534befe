// `npm run bench`: every benchmark, printed as tables and JSON lines (docs/performance.md).
// Set ENTRIES to change the size of the store benchmark (default 1,000,000); the network
// benchmark reads RUNS, INGEST_SECONDS, LATENCY_SECONDS, CATCH_UP_ENTRIES, HYPERCORE_BLOCKS;
// the query benchmark QUERY_ENTRIES (default 1,000,000) and QUERIES; the syslog benchmark
// SYSLOG_MESSAGES (default 20,000) and SYSLOG_CONNECTIONS (default 4); the per-patient index
// benchmark ENTRIES and PATIENTS (default 100,000); the membership benchmark JOIN_ENTRIES
// (default 1,000,000), CHANGE_RUNS and ASKED_RUNS; the membership sync benchmark
// MEMBERSHIP_CHANGES (default 200).
import '../../node/shim.ts'
import { relaunch, thresholdUnset } from '../../bin/relaunch.js'
import { benchCheckpoint } from './checkpoint.ts'
import { benchIndexService } from './index-service.ts'
import { benchLogStore } from './log-store.ts'
import { benchMembership } from './membership.ts'
import { benchMembershipSync } from './membership-sync.ts'
import { benchNetwork } from './network.ts'
import { benchQuery } from './query.ts'
import { printFigures } from './report.ts'
import { benchSyslog } from './syslog.ts'

// The benchmarks run on the allocator `ehrlog node start` gives a node (bin/relaunch.js):
// the store benchmark's memory and speed are a node's.
if (thresholdUnset()) process.exit(await relaunch())

printFigures('log on one node', await benchLogStore())
printFigures('checkpoints', await benchCheckpoint())
printFigures('peer network, 3 local nodes', await benchNetwork())
printFigures('verified queries', await benchQuery())
printFigures('ATNA syslog ingest, 3 local nodes', await benchSyslog())
printFigures('per-patient index in the store (issue 15)', await benchIndexService())
printFigures('membership changes, real node processes (issue 16)', await benchMembership())
printFigures('membership sync, 2 local nodes (issue 16)', await benchMembershipSync())
