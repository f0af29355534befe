import type { FastifyInstance } from 'fastify'
import type { ProofAnswerJson, QueryRequest, Session } from '../query/index.ts'
import { requireSession, type SessionAuthenticator } from './session.ts'

export const PROOF_PATH = '/api/v1/proof/:entryId'

export interface ProofRouteOptions {
  /** node.ts: QueryService, which checks the role and records the read. */
  proofs: {
    proofAs(session: Session, entryId: string, via: QueryRequest['via']): Promise<ProofAnswerJson>
  }
  auth: SessionAuthenticator
}

/**
 * GET /api/v1/proof/:entryId with an auditor's or admin's session: the entry, its inclusion
 * proof at the latest cosigned checkpoint, and that checkpoint. The EHR's API token is not a
 * session (401): it may only append. Every answer is recorded as an audit event first.
 */
export async function proofRoute(scope: FastifyInstance, opts: ProofRouteOptions): Promise<void> {
  // No HEAD: it would be a recorded read without an answer.
  scope.get<{ Params: { entryId: string } }>(
    PROOF_PATH,
    { exposeHeadRoute: false },
    async (request, reply) => {
      const session = requireSession(request, opts.auth)
      const answer = await opts.proofs.proofAs(session, request.params.entryId, 'http')
      reply.header('Cache-Control', 'no-store')
      return answer
    },
  )
}
