import type { FastifyInstance } from 'fastify'
import { type NodeStatus, nodeStatusSchema } from './status.ts'

export const STATUS_PATH = '/api/v1/status'

export interface StatusRouteOptions {
  status: () => Promise<NodeStatus> | NodeStatus
}

/** `GET /api/v1/status`: open to anyone who can reach the port, since it holds no patient data. */
export async function statusRoute(scope: FastifyInstance, opts: StatusRouteOptions): Promise<void> {
  scope.get(STATUS_PATH, { schema: { response: { 200: nodeStatusSchema } } }, async () =>
    opts.status(),
  )
}
