import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { BearerToken } from '../api/bearer-auth.ts'
import { EhrlogError } from '../core/errors.ts'
import { bytesHex, COUNTER_NAMES } from '../core/stats/index.ts'
import { bundleForBrowser } from '../portal/bundle.ts'
import { escapeHtml } from '../portal/html.ts'
import { sourceUrl } from '../threads/source-root.ts'
import type { StatsService } from './stats-service.ts'

export const STATS_PATHS = {
  requests: '/api/v1/stats/requests',
  bundles: '/api/v1/stats/bundles',
  key: '/api/v1/stats/key',
  page: '/stats',
  script: '/stats/app.js',
} as const

const BUNDLE_FILE = /^[0-9T-]+\.[a-z0-9][a-z0-9-]{0,62}\.stats$/

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * The statistics routes (docs/architecture.md, "Private network statistics"): a decryption request (API token), and the
 * public side: the bundles this node combined, the key, and the page that checks and plots
 * them in the browser. No route ever gives a per-hospital figure: the bundles hold only
 * ciphertexts per hospital, and totals over whole groups.
 */
export function statsRoutes(o: { stats: StatsService; node: string }) {
  return async (scope: FastifyInstance, token: BearerToken): Promise<void> => {
    const opts = { ...o, token }
    const dir = opts.stats.dir
    let script: Promise<string> | undefined

    scope.post<{ Querystring: Record<string, string | undefined> }>(
      STATS_PATHS.requests,
      async (request, reply) => {
        opts.token.check(request.headers.authorization)
        const { period, group, hospitals, counters, ...rest } = request.query ?? {}
        const unknown = Object.keys(rest)[0]
        if (unknown !== undefined)
          throw new EhrlogError(
            'ARGUMENT_INVALID',
            `${unknown.slice(0, 40)} is not a parameter: want period, group, hospitals, counters`,
            {
              details: { field: unknown.slice(0, 40) },
            },
          )
        if (typeof period !== 'string')
          throw new EhrlogError('ARGUMENT_INVALID', 'period is required, e.g. 2026-11-03', {
            details: { field: 'period' },
          })
        const result = await opts.stats.request({
          period,
          ...(group ? { group } : {}),
          ...(hospitals ? { origins: hospitals.split(',').filter((h) => h !== '') } : {}),
          ...(counters ? { counters: counters.split(',').filter((c) => c !== '') } : {}),
        })
        reply.code(201)
        return {
          period: result.period,
          group: result.group,
          hospitals: result.origins,
          file: result.file,
          bundle: Buffer.from(result.bundle).toString('base64'),
          totals: Object.fromEntries(COUNTER_NAMES.map((n, l) => [n, result.totals[l] ?? null])),
          sharesFrom: result.sharesFrom,
          refused: result.refused,
        }
      },
    )

    scope.get(STATS_PATHS.bundles, async () => {
      let files: string[] = []
      try {
        files = (await readdir(join(dir, 'bundles'))).filter((f) => BUNDLE_FILE.test(f)).sort()
      } catch {
        files = []
      }
      return { bundles: files }
    })

    scope.get<{ Params: { file: string } }>(
      `${STATS_PATHS.bundles}/:file`,
      async (request, reply) => {
        const { file } = request.params
        if (!BUNDLE_FILE.test(file))
          throw new EhrlogError(
            'ARGUMENT_INVALID',
            'not a bundle name like 2026-11-03.network.stats',
            { details: { field: 'file' } },
          )
        let bytes: Buffer
        try {
          bytes = await readFile(join(dir, 'bundles', file))
        } catch {
          throw new EhrlogError('NOT_FOUND', `no bundle ${file}`)
        }
        return reply
          .type('application/octet-stream')
          .header('Cache-Control', 'no-cache')
          .send(bytes)
      },
    )

    scope.get(STATS_PATHS.key, async () => {
      const key = opts.stats.key
      if (!key) throw new EhrlogError('NOT_FOUND', 'the statistics key is not made yet')
      return {
        generation: key.generation,
        n: key.key.n,
        k: key.key.k,
        publicKey: bytesHex(key.key.commitments[0]!.toBytes()),
        commitments: key.key.commitments.map((c) => bytesHex(c.toBytes())),
      }
    })

    scope.get(STATS_PATHS.page, async (_request, reply) => sendPage(reply, statsPage(opts.node)))

    scope.get(STATS_PATHS.script, async (_request, reply) => {
      script ??= bundleForBrowser(
        fileURLToPath(sourceUrl('node/stats/browser/stats-page.ts')),
        'esm',
      )
      const text = await script.catch((err: unknown) => {
        script = undefined
        throw err
      })
      return reply
        .type('text/javascript; charset=utf-8')
        .header('Cache-Control', 'no-cache')
        .send(text)
    })
  }
}

function sendPage(reply: FastifyReply, body: string): FastifyReply {
  return reply
    .header('Content-Security-Policy', CSP)
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body)
}

function statsPage(node: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Network statistics · ehrlog</title>
<link rel="stylesheet" href="/portal/style.css">
<script type="module" src="${STATS_PATHS.script}"></script>
</head>
<body data-page="stats" data-node="${escapeHtml(node)}">
<header><p class="brand">ehrlog · tamper-evident EHR audit log</p></header>
<main>
<h1>Network statistics</h1>
<p>Totals over whole groups of hospitals, decrypted by the members together. Your browser checks every figure itself: each hospital's encrypted counters are in its feed under a checkpoint the members cosigned, the decryption shares carry proofs, and each total is what they decrypt. No figure for a single hospital is published.</p>
<p id="stats-status" role="status" aria-live="polite">checking…</p>
<label for="stats-counter">Counter</label> <select id="stats-counter"></select>
<div id="stats-plot" role="img" aria-label="totals per period"></div>
<table id="stats-table"><caption>Verified totals per period</caption><thead><tr><th scope="col">Period</th><th scope="col">Group</th><th scope="col">Hospitals</th><th scope="col">Total</th></tr></thead><tbody></tbody></table>
<ul id="stats-failures"></ul>
</main>
</body>
</html>
`
}
