import type { RepairRequest, RepairResponse } from '../net/index.ts'

/** A member asked for authentic records of a feed (the repair protocol). */
export interface RepairPeer {
  name: string
  request(request: RepairRequest, signal?: AbortSignal): Promise<RepairResponse>
}

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
