import { describeChange, describeVersion, type MembershipChange } from '../core/trust/index.ts'
import type { MembershipRecord } from '../core/trust/membership-record.ts'
import type { GovernanceNotice } from './governance-mail.ts'
import type { LiveMembership } from './live-membership.ts'

/** The email of one governance record: subject and text in words, the evidence attached. */
export function noticeOf(
  node: string,
  record: MembershipRecord,
  evidence: unknown,
  live: LiveMembership,
): GovernanceNotice {
  const short = (id: string) => `${id.slice(0, 16)}...`
  const proposal = (evidence as { proposal?: { change?: unknown; proposer?: string } }).proposal
  const what = proposal?.change ? describeChange(proposal.change as MembershipChange) : 'a change'
  const show = `ehrlog network show --node URL`
  switch (record.op) {
    case 'proposed':
      return {
        record,
        node,
        evidence,
        subject: `${record.proposal.proposer} proposes: ${what} (version ${record.proposal.baseVersion})`,
        text: [
          `${record.proposal.proposer} proposed a change to the membership of the network: ${what}, on version ${record.proposal.baseVersion}.`,
          record.by ? `Proposed through ${node} by its admin ${record.by}.` : `Seen by ${node}.`,
          `Proposal ${record.id}. It applies once a quorum of the members signed it. To sign it as an admin of a member: ehrlog network sign ${record.id} --node URL. To see who signed: ${show}.`,
        ],
      }
    case 'signed':
      return {
        record,
        node,
        evidence,
        subject: `${record.signer} signed ${what} (version ${record.baseVersion})`,
        text: [
          record.oldKey
            ? `${record.signer}'s old key signed its own rotation: ${what}.`
            : `${record.signer} signed the proposed change ${what} on version ${record.baseVersion}.`,
          record.by ? `Signed through ${node} by its admin ${record.by}.` : `Seen by ${node}.`,
          `Proposal ${short(record.id)}; ${show} lists who signed and what is missing.`,
        ],
      }
    case 'applied': {
      const v = live.history.versions[record.version]
      return {
        record,
        node,
        evidence,
        subject: `${what}: now version ${record.version}`,
        text: [
          `${node} applied a change to the membership at a checkpoint cut: ${what}. It is now at ${v ? describeVersion(v) : `version ${record.version}`}, with the members ${live.current.members.map((m) => m.name).join(', ')}.`,
          `Signed by ${record.signers.join(', ')}.`,
        ],
      }
    }
    case 'key-rotated':
      // Written by the rotating node itself (own-rotation.ts); no email is sent for it today.
      return {
        record,
        node,
        evidence,
        subject: `${node} signs its feed with its new Ed25519 key (version ${record.version})`,
        text: [
          `${node} wrote the marker of its Ed25519 rotation of version ${record.version}: it is the last entry its old key signs; every later tree head of its feed is signed by ${record.ed25519PublicKey.slice(0, 16)}...`,
        ],
      }
    case 'alert':
      return {
        record,
        node,
        evidence,
        subject: record.summary.slice(0, 160),
        text: [
          record.summary,
          `Reported by ${node} at membership version ${record.version}. ${
            record.alert === 'membership-equivocation'
              ? 'Both quorum-signed changes are attached (proposal.json); the members named signed both. Do not sign anything more on this version; contact their admins.'
              : record.alert === 'lost-key-rotation'
                ? 'A rotation with a lost key is decided by the quorum alone: whoever holds a quorum could take a member key this way. Confirm with the member through another channel before signing.'
                : "The key no longer belongs to the member: whoever used it may hold a stolen key. The signature was refused; contact the member's admins."
          }`,
        ],
      }
  }
}
