import type { RepairRequest, RepairResponse } from '../net/index.ts'
import type { RepairPeer } from './repairer.ts'

/** What repairs need from the network (NetService). */
export interface RepairNetwork {
  peers(): ReadonlyArray<{ peerId: string; name: string | undefined }>
  requestRepair(
    peerId: string,
    request: RepairRequest,
    signal?: AbortSignal,
  ): Promise<RepairResponse>
}

/** The connected members to repair from (clients, which have no member name, are left out). */
export function repairPeersOf(net: RepairNetwork): RepairPeer[] {
  return net.peers().flatMap(({ peerId, name }) =>
    name
      ? [
          {
            name,
            request: (req: RepairRequest, signal?: AbortSignal) =>
              net.requestRepair(peerId, req, signal),
          },
        ]
      : [],
  )
}
