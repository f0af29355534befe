export { type HealthParts, nodeHealthOf } from './node-health.ts'
export { type MetricSources, NodeMetrics } from './node-metrics.ts'
export { QuorumWatch, type QuorumWatchOptions } from './quorum-watch.ts'
export { type ReadinessSources, readinessOf } from './readiness.ts'
