// `npm run bench`: every benchmark, printed as tables and JSON lines (docs/performance.md).
// Set ENTRIES to change the size of the store benchmark (default 1,000,000).
import '../../node/shim.ts'
import { benchCheckpoint } from './checkpoint.ts'
import { benchLogStore } from './log-store.ts'
import { printFigures } from './report.ts'

printFigures('log on one node', await benchLogStore())
printFigures('checkpoints', await benchCheckpoint())
