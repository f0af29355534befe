import type { Command } from 'commander'
import type { NodeStatus } from '../../node/api/index.ts'
import type { CliContext } from '../context.ts'
import { plural } from '../format/plural.ts'
import { renderTable } from '../format/text-table.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, findEndpoint } from '../node-client.ts'

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description("a node's peers and feeds: from the running node, or offline from its folder")
    .option('--node <url>', 'a running node, e.g. http://127.0.0.1:7401')
    .option('--dir <dir>', 'a node folder (asks its running node if there is one)')
    .option('--json', 'print JSON')
    .action(async (opts: { node?: string; dir?: string; json?: boolean }) => {
      const endpoint = await findEndpoint(opts, ctx.env)
      const status: NodeStatus = endpoint
        ? await callNode<NodeStatus>(endpoint, 'GET', '/api/v1/status')
        : await withLocalNode(ctx, opts.dir!, async ({ node, store }) => ({
            node: node.config.name,
            peers: [],
            feeds: [...store.sizes()].map(([origin, size]) => ({
              origin,
              size,
              headSize: store.latestHead(origin)?.treeSize ?? 0,
            })),
            uptimeSeconds: 0,
          }))
      if (opts.json) {
        ctx.out(`${JSON.stringify(status, null, 2)}\n`)
        return
      }
      ctx.out(
        `node ${status.node}${endpoint ? ` (running, up ${status.uptimeSeconds}s)` : ' (stopped; offline view)'}\n`,
      )
      if (endpoint)
        ctx.out(
          `peers: ${status.peers.map((p) => p.name ?? p.peerId).join(', ') || 'none connected'}\n`,
        )
      if (status.members && status.members.length > 0)
        ctx.out(
          renderTable(
            ['MEMBER', 'STATE', 'ADDRESS', 'LAST CONNECTED', 'LAST ERROR'],
            status.members.map((m) => [
              m.name,
              m.connected ? 'connected' : `unreachable (${plural(m.failures, 'failed dial')})`,
              m.address ?? '',
              m.connected ? 'now' : (m.lastConnectedAt ?? 'never'),
              m.lastError ?? '',
            ]),
          ),
        )
      if (status.membership && !status.membership.admitted)
        ctx.out(`not a member yet: waiting ${status.membership.waitingFor ?? 'to be admitted'}\n`)
      const own = status.ownFeed
      if (own?.fenced)
        ctx.out(`own feed fenced: ${own.waitingFor}; ${own.pendingEvents} events pending\n`)
      else if (own && own.pendingEvents > 0)
        ctx.out(`own feed: appending ${own.pendingEvents} pending events\n`)
      ctx.out(
        renderTable(
          ['FEED', 'ENTRIES', 'SIGNED'],
          status.feeds.map((f) => [f.origin, String(f.size), String(f.headSize ?? '')]),
        ),
      )
      // ATNA senders (docs/atna.md): received − appended − refused are still being appended.
      if (status.syslog && status.syslog.length > 0)
        ctx.out(
          renderTable(
            ['SYSLOG SENDER', 'RECEIVED', 'APPENDED', 'REFUSED'],
            status.syslog.map((s) => [
              s.sender,
              String(s.received),
              String(s.appended),
              String(s.refused),
            ]),
          ),
        )
    })
}
