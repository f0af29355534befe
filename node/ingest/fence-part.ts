import type { Startable } from '../lifecycle/index.ts'
import { fenceOverrideEvent } from './fence-override.ts'
import type { OwnTipFence } from './own-tip-fence.ts'
import type { PendingDrain } from './pending-drain.ts'

/**
 * The fence as a part of the node: with the operator's override, the entry recording it is
 * made durable (pending, so it is appended first and retried like any pending event) before
 * the fence opens.
 */
export function fencePart(
  fence: OwnTipFence,
  pending: Pick<PendingDrain, 'add'>,
  node: string,
  localSize: () => number,
  override: string | undefined,
): Startable {
  return {
    async start() {
      if (override !== undefined)
        await pending.add([fenceOverrideEvent(node, override, localSize(), new Date())])
      await fence.start()
    },
    stop: () => fence.stop(),
  }
}
