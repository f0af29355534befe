import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'
import type { CosignedCheckpoint } from '../../node/core/checkpoint.ts'
import {
  decodeCursor,
  parseQueryFilter,
  type QueryAnswerJson,
  type QueryFilter,
} from '../../node/core/trust/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import type { useQueryWorld } from './fixtures.ts'

export interface AnswerState {
  checkpoint: CosignedCheckpoint | undefined
  tamper?: (answer: QueryAnswerJson, filter: QueryFilter) => void | Promise<void>
  /** A patient session's bound id: the filter's patient, as a node's scope makes it. */
  scopePatient?: string
}

/** The answer to GET /api/v1/query?params, built from `store` as a node builds it. */
export async function answerFromParams(
  world: ReturnType<typeof useQueryWorld>,
  store: LogStore,
  state: AnswerState,
  params: URLSearchParams,
): Promise<QueryAnswerJson> {
  const { limit, cursor, ...fields } = Object.fromEntries(params)
  const filter = parseQueryFilter(
    state.scopePatient ? { ...fields, patient: state.scopePatient } : fields,
  )
  const after = cursor ? decodeCursor(cursor) : undefined
  const answer = await world.answer(store, state.checkpoint, filter, {
    limit: Number(limit ?? 100),
    ...(after ? { after } : {}),
  })
  await state.tamper?.(answer, filter)
  return answer
}

/**
 * GET /api/v1/query over real HTTP on 127.0.0.1, answered from a real store exactly as a node
 * builds answers (selectEntries + buildAnswer, completeness from PatientIndex at the
 * checkpoint's cut): the CLI's `--node URL` path end to end, while nodes do not yet attach
 * completeness themselves. `tamper` makes it a lying node; `checkpoint` can be swapped.
 */
export function useAnswerServer(world: ReturnType<typeof useQueryWorld>) {
  const closers: (() => Promise<void>)[] = []
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()))
  })

  return async function serve(
    store: LogStore,
    checkpoint: CosignedCheckpoint | undefined,
  ): Promise<{
    url: string
    state: AnswerState
    requests: number
  }> {
    const served = {
      url: '',
      state: { checkpoint } as AnswerState,
      requests: 0,
    }
    const server = createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (req.method !== 'GET' || url.pathname !== '/api/v1/query')
        return reply(404, { error: { code: 'NOT_FOUND', message: 'no such route' } })
      served.requests++
      answerFromParams(world, store, served.state, url.searchParams)
        .then((answer) => reply(200, answer))
        .catch((err: Error) =>
          reply(400, { error: { code: 'ARGUMENT_INVALID', message: err.message } }),
        )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    served.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
    return served
  }
}
