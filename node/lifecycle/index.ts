export { BackgroundTask } from './background-task.ts'
export { PartList } from './part-list.ts'
export type { NamedPart, Startable } from './startable.ts'
