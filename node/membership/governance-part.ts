import type { AlertService } from '../alerts/index.ts'
import { MembershipHistory } from '../core/trust/index.ts'
import type { MembershipRecord } from '../core/trust/membership-record.ts'
import type { Logger } from '../logger.ts'
import type { NetService } from '../net/index.ts'
import type { NodeFolder } from '../node-folder.ts'
import { GovernanceService } from './governance.ts'
import { noticeId, renderNotice } from './governance-mail.ts'
import { MEMBERSHIP_TOPIC } from './governance-messages.ts'
import { LiveMembership } from './live-membership.ts'

/**
 * The node's governance part (node-parts.ts): its LiveMembership (the folder's, once the node
 * runtime loads one; else genesis only, in memory), the membership topic, the own feed and
 * the admins' email.
 */
export function governancePart(
  folder: NodeFolder,
  opts: {
    dir: string
    net: NetService
    append: (body: MembershipRecord) => Promise<unknown>
    alerts: AlertService
    logger: Logger
    republishMs?: number
  },
): GovernanceService {
  const live =
    (folder as NodeFolder & { live?: LiveMembership }).live ??
    new LiveMembership(
      MembershipHistory.fromChain(JSON.parse(folder.networkText), [], { proven: () => true }),
    )
  const { identity } = folder
  const governance = new GovernanceService({
    live,
    // Read at each use: a node that installs a rotated key signs with the new one from then on.
    keys: {
      name: identity.config.name,
      get signingKey() {
        return identity.signingKey
      },
      get blsSecretKey() {
        return identity.blsSecretKey
      },
      get libp2pPrivateKey() {
        return identity.libp2pPrivateKey
      },
    },
    dir: opts.dir,
    publish: (data) => opts.net.publishControl(MEMBERSHIP_TOPIC, data),
    record: async (body) => void (await opts.append(body)),
    notify: async (notice) =>
      void (await opts.alerts.notify(noticeId(notice.node, notice.record), (envelope) =>
        renderNotice(notice, envelope),
      )),
    known: (notice) => opts.alerts.isKnown(noticeId(notice.node, notice.record)),
    logger: opts.logger,
    ...(opts.republishMs !== undefined ? { republishMs: opts.republishMs } : {}),
  })
  opts.net.handleControl(MEMBERSHIP_TOPIC, (data, from) => governance.handle(data, from))
  return governance
}

/** The LiveMembership a governance part follows (for tests and the node runtime). */
export function liveOf(governance: GovernanceService): LiveMembership {
  return governance.live
}
