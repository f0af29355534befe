// `npm run bench`: every benchmark, printed as tables and JSON lines (docs/performance.md).
// Set ENTRIES to change the size of the store benchmark (default 1,000,000); the network
// benchmark reads RUNS, INGEST_SECONDS, LATENCY_SECONDS, CATCH_UP_ENTRIES, HYPERCORE_BLOCKS;
// the query benchmark QUERY_ENTRIES (default 1,000,000) and QUERIES; the syslog benchmark
// SYSLOG_MESSAGES (default 20,000), SYSLOG_CONNECTIONS (default 4), SYSLOG_PATIENTS (default
// 100,000), SYSLOG_ROUNDS (default 3), SYSLOG_WORKLOAD (pool, new, both) and SYSLOG_TOPOLOGY (processes, in-process,
// both); the per-patient index benchmark ENTRIES and
// PATIENTS (default 100,000); the membership sync benchmark MEMBERSHIP_CHANGES (default 200);
// the membership changes benchmark (membership) JOIN_ENTRIES (default 1,000,000), CHANGE_RUNS,
// ASKED_RUNS and JOIN_SEED_DIR; a hospital joining at scale (join-scale) JOIN_ENTRIES (default
// 1,000,000), JOIN_PATIENTS (default 100,000) and JOIN_SCALE_DIR;
// the checkpoint rounds at scale CHECKPOINT_ENTRIES (default 1,000,000), CHECKPOINT_ROUNDS and
// CHECKPOINT_SCALE_DIR. BENCH=name,name runs only those benchmarks (names below, e.g.
// BENCH=checkpoint-scale).
import '../../node/shim.ts'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { relaunch, thresholdUnset } from '../../bin/relaunch.js'
import { benchCheckpoint } from './checkpoint.ts'
import { benchCheckpointAtScale } from './checkpoint-scale.ts'
import { benchIndexService } from './index-service.ts'
import { benchJoinAtScale } from './join-scale.ts'
import { benchMembership } from './membership.ts'
import { benchMembershipSync } from './membership-sync.ts'
import { benchNetwork } from './network.ts'
import { benchQuery } from './query.ts'
import { printFigures } from './report.ts'
import { benchSyslog } from './syslog.ts'

// The benchmarks run on the allocator `ehrlog node start` gives a node (bin/relaunch.js):
// the store benchmark's memory and speed are a node's.
if (thresholdUnset()) process.exit(await relaunch())

const only = process.env.BENCH?.split(',').filter(Boolean)
const want = (name: string) => !only || only.includes(name)

if (want('log-store')) await logStoreAlone()
if (want('checkpoint')) printFigures('checkpoints', await benchCheckpoint())
if (want('checkpoint-scale'))
  printFigures('checkpoint rounds at scale, 3 node processes', await benchCheckpointAtScale())
if (want('network')) printFigures('peer network, 3 local nodes', await benchNetwork())
if (want('query')) printFigures('verified queries', await benchQuery())
if (want('syslog')) printFigures('ATNA syslog ingest, 3 local nodes', await benchSyslog())
if (want('index'))
  printFigures('per-patient index in the store (issue 15)', await benchIndexService())
if (want('membership-sync'))
  printFigures('membership sync, 2 local nodes (issue 16)', await benchMembershipSync())
if (want('membership'))
  printFigures('membership changes, real node processes (issue 16)', await benchMembership())
if (want('join-scale'))
  printFigures('a hospital joining at scale, real node processes', await benchJoinAtScale())

/**
 * The store benchmark in a process of its own (its file, or its bundle next to this one): its
 * peak RSS is the store's. In this process, which holds every benchmark's modules, ~65 MiB
 * more was resident before the store opened (docs/performance.md, session 10).
 */
async function logStoreAlone(): Promise<void> {
  const own = import.meta.url.endsWith('.mjs') ? './log-store.mjs' : './log-store.ts'
  const child = fork(fileURLToPath(new URL(own, import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: 'inherit',
  })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`the store benchmark exited with ${code}`)
}
