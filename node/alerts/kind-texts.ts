import type { Incident, IncidentKind } from './incident.ts'
import { seqRangeOf } from './incident.ts'

/** Subject tag and opening lines per kind, in the prototype's words where it had them. */
export const KIND_TEXTS: Record<IncidentKind, { tag: string; opening: string[] }> = {
  modified: {
    tag: '[Unauthorized Log Modifications]',
    opening: ['Unauthorized modifications have been made to the audit records'],
  },
  deleted: {
    tag: '[Unauthorized Log Deletions]',
    opening: [
      'Some Logs missing in the audit database',
      'Unauthorized deletions have been made to the audit records',
    ],
  },
  diverged: {
    tag: '[Replica Divergence]',
    opening: ['Replicas of the audit log disagree about the same records'],
  },
  'index-diverged': {
    tag: '[Index Divergence]',
    opening: ["The per-patient index of the audit log does not match the log's own entries"],
  },
  equivocation: {
    tag: '[Equivocation]',
    opening: ['A node signed two different versions of its audit log'],
  },
  'invalid-checkpoint': {
    tag: '[Invalid Checkpoint]',
    opening: ['A checkpoint of the audit log failed verification'],
  },
  'quorum-degraded': {
    tag: '[Network Degraded]',
    opening: ['A member of the network is unreachable, or checkpoints are not being cosigned'],
  },
  'quorum-recovered': {
    tag: '[Network Recovered]',
    opening: ['The network is whole again: every member is reachable'],
  },
  'rotated-out-key': {
    tag: '[Rotated-Out Key Used]',
    opening: ['A signing key the network retired signed new history of an audit log'],
  },
}

/** Kinds about the network's health, not about entries: their subject is their summary. */
const HEALTH_KINDS: ReadonlySet<IncidentKind> = new Set(['quorum-degraded', 'quorum-recovered'])

function entries(n: number): string {
  return n === 1 ? '1 entry' : `${n} entries`
}

function rangeText(incident: Incident): string {
  const range = seqRangeOf(incident)
  if (!range) return ''
  return range.seqFrom === range.seqTo
    ? ` (seq ${range.seqFrom})`
    : ` (seq ${range.seqFrom}-${range.seqTo})`
}

/** One line, ASCII (origins are DNS labels), starting with the kind's tag. */
export function subjectOf(incident: Incident): string {
  const { origin, reportingNode: node } = incident
  const n = new Set(incident.entryIds).size
  const range = rangeText(incident)
  const tail = {
    modified: `${entries(n)} of ${origin} modified in the replica on ${node}${range}`,
    deleted: `${entries(n)} of ${origin} missing from the replica on ${node}${range}`,
    diverged: `replicas of ${origin} disagree, seen by ${node}${range}`,
    'index-diverged': `the per-patient index of ${origin} disagrees, seen by ${node}`,
    equivocation: `${origin} signed two different versions of its log${range}`,
    'invalid-checkpoint': `checkpoint for ${origin} refused by ${node}`,
    'quorum-degraded': `${node}: ${incident.summary}`,
    'quorum-recovered': `${node}: ${incident.summary}`,
    'rotated-out-key': `a retired key of ${origin} signed its log, refused by ${node}${range}`,
  }[incident.kind]
  return `${KIND_TEXTS[incident.kind].tag} ${tail}`
}

/** The repair status line. */
export function repairStatusOf(incident: Incident): string {
  if (incident.repaired?.local) {
    const removed = incident.repaired.removed ?? []
    return removed.length > 0
      ? `repaired here (${entries(removed.length)} that no head ${incident.origin} signed covers removed: ${removed.join(', ')}; nothing was needed from a peer)`
      : 'repaired here (the replica verifies again)'
  }
  if (incident.repaired) {
    return `repaired from ${incident.repaired.from} (${entries(incident.repaired.entryIds.length)} restored and verified against ${incident.origin}'s signed tree head)`
  }
  if (
    incident.kind === 'equivocation' ||
    incident.kind === 'invalid-checkpoint' ||
    incident.kind === 'rotated-out-key' ||
    HEALTH_KINDS.has(incident.kind)
  ) {
    return 'not applicable (the conflicting data was refused, nothing was stored)'
  }
  return 'NOT repaired yet'
}

const KEEP_EVIDENCE =
  "Keep evidence.json (attached) and the node's logs; they are what an investigation needs."

/** Concrete steps for the admin, the caller's own first when it gave one. */
export function adviceOf(incident: Incident): string[] {
  const { origin, reportingNode: node, detectedAt } = incident
  const access =
    `Entries are encrypted and authenticated on disk, so changing them takes write access to ` +
    `${node}'s database folder: check who had access to that host and folder (logins, ` +
    `restored backups, disk tools) between the previous clean scrub and ${detectedAt}.`
  const verify = `Run "ehrlog verify --dir <node folder>" on ${node} (stopped) to list every damaged entry.`
  const steps: Record<IncidentKind, string[]> = {
    modified: [
      incident.repaired?.local
        ? `The replica was repaired here: records ${origin} never signed were removed; no data was lost, but someone inserted records into the store.`
        : incident.repaired
          ? `The replica was repaired from ${incident.repaired.from}; no data was lost, but someone changed the stored records.`
          : 'The replica is not repaired yet: no peer has supplied the authentic entries; the node retries at every scrub, and the entries show as compromised until then.',
      access,
      'Copy the database folder before anyone touches it, then keep the copy for forensics.',
      verify,
    ],
    deleted: [
      incident.repaired
        ? `The replica was repaired from ${incident.repaired.from}; no data was lost, but someone removed stored records.`
        : 'The replica is not repaired yet: no peer has supplied the missing entries; the node retries at every scrub.',
      access,
      `If the missing entries are the last ones of ${origin}'s feed, the log was rolled back: compare with the latest checkpoint.`,
      verify,
    ],
    diverged: [
      `Two replicas hold different roots for ${origin} at the same tree size: one of them was altered, or ${origin} showed different logs to different nodes (an [Equivocation] alert follows if so).`,
      `The replica whose root matches ${origin}'s signed tree head (in evidence.json) is authentic.`,
      'Contact the admins of the other node named in evidence.json; do not delete either replica.',
    ],
    'index-diverged': [
      incident.repaired?.local
        ? `${node}'s own index of ${origin} no longer matched ${origin}'s entries and was rebuilt from them; answers since the last clean scrub may have carried proofs clients refused.`
        : `A proposed checkpoint carried an index root for ${origin} that ${node} does not compute from the same entries: ${node} did not cosign it. Either the proposer's index is damaged or its software differs.`,
      `Compare the versions of ehrlog the members run; a member whose index is damaged rebuilds it at its next scrub.`,
      KEEP_EVIDENCE,
    ],
    equivocation: [
      `${origin} signed two different tree heads (or entries) for the same size (or seq); both signatures verify with its key, so ${origin} or someone holding its signing key produced both.`,
      `Contact ${origin}'s admins and treat its signing key as compromised until they explain.`,
      `The two signed heads in evidence.json are proof anyone can check with ${origin}'s public key: send them with your report.`,
    ],
    'invalid-checkpoint': [
      `${node} refused a checkpoint for ${origin}: a cosignature did not verify, or a root in it disagrees with the feeds ${node} holds.`,
      'Check that every node runs the same network.json (members and keys).',
      `If the keys match, the checkpoint was forged or altered in transit: contact ${origin}'s admins with evidence.json.`,
    ],
    'quorum-degraded': [
      `Check that the members named are running ("ehrlog status --dir <node folder>" on ${node} lists who is connected) and that their libp2p ports are reachable from ${node}.`,
      'While fewer members than the quorum are reachable, new entries are replicated but not covered by a cosigned checkpoint; nothing is lost.',
      'A second email follows when every member is reachable again.',
    ],
    'quorum-recovered': ['Nothing to do: the members caught up by themselves.'],
    'rotated-out-key': [
      `A tree head of ${origin} verifies under a key of ${origin} that a membership change retired (evidence.json names the key, the version and the last size it could sign): whoever signed it holds the old key. ${node} refused the head and stores nothing it signed past the cut.`,
      `Treat ${origin}'s old signing key as stolen: contact ${origin}'s admins through another channel, and have them check that no host still runs with the old key (a restored backup of the node folder, a copy of its keys file).`,
      `The signed head in evidence.json is proof anyone can check with the retired public key: send it with your report.`,
    ],
  }
  return [...(incident.action ? [incident.action] : []), ...steps[incident.kind], KEEP_EVIDENCE]
}
