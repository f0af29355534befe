// The per-patient index beside the store (issue 15): IndexView is what the node codes against,
// IndexService the implementation (index-service.ts).
export {
  IndexService,
  type IndexServiceOptions,
  type RebuildProgress,
} from './index-service.ts'
export type { IndexView } from './index-view.ts'
export { progressLine } from './progress.ts'
