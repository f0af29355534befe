import { evidenceJson } from './email.ts'
import type { Incident } from './incident.ts'
import type { AlertSpool } from './spool.ts'

/** How alerts of one kind and origin are grouped into one email. */
export interface EpisodeOptions {
  /** An episode ends after this long without a new incident of its kind and origin (1 h). */
  quietMs: number
  /** ...and at the latest this long after its email, so a storm that never stops is re-sent (24 h). */
  maxMs: number
}

export const DEFAULT_EPISODES: EpisodeOptions = { quietMs: 3600_000, maxMs: 24 * 3600_000 }

/** The incidents of one kind and origin behind one email. */
export interface Episode {
  /** The incident whose email and alert entry stand for the whole episode. */
  firstId: string
  openedAtMs: number
  lastAtMs: number
  /** Incidents folded into it after the first (not emailed, not recorded; evidence kept). */
  folded: number
  /** The first incident's key: its "repaired" follow-up (key `<it>:repaired`) is emailed. */
  firstKey: string | undefined
  /** Whether that follow-up was emailed already (once per episode). */
  followedUp: boolean
}

/** The suffix of the key of an incident's "repaired" follow-up (node/integrity scrubber.ts). */
export const REPAIRED_SUFFIX = ':repaired'

/**
 * Alert storms: one equivocation after a restore used to send one email per diverging tree
 * size (354 in 30 s), and one storage loss 607. An incident of a kind and origin that already
 * has an open episode joins it instead: counted, its evidence kept, no email, no entry.
 * This is also the rate limit per kind and origin: at most one email per episode.
 */
export class AlertEpisodes {
  readonly #open = new Map<string, Episode>()

  constructor(private readonly opts: EpisodeOptions = DEFAULT_EPISODES) {}

  /**
   * The open episode `incident` joins (counted), or undefined when it is emailed: after
   * opening an episode with `id`, or as the one "repaired" follow-up of the episode's first
   * incident (the admins hold "not repaired yet" otherwise; it is that incident's end, not
   * another one, and leaves the episode as it was).
   */
  join(
    incident: Pick<Incident, 'kind' | 'origin' | 'key' | 'repaired'>,
    id: string,
    nowMs: number,
  ): Episode | undefined {
    const key = `${incident.kind}\u0000${incident.origin}`
    const open = this.#open.get(key)
    if (
      open &&
      nowMs - open.lastAtMs < this.opts.quietMs &&
      nowMs - open.openedAtMs < this.opts.maxMs
    ) {
      if (
        !open.followedUp &&
        incident.repaired &&
        open.firstKey !== undefined &&
        incident.key === `${open.firstKey}${REPAIRED_SUFFIX}`
      ) {
        open.followedUp = true
        return undefined
      }
      open.lastAtMs = nowMs
      open.folded++
      return open
    }
    this.#open.set(key, {
      firstId: id,
      openedAtMs: nowMs,
      lastAtMs: nowMs,
      folded: 0,
      firstKey: incident.key,
      followedUp: false,
    })
    return undefined
  }

  /** Forgets an episode opened by `id`, or its follow-up, when that incident was not accepted. */
  cancel(incident: Pick<Incident, 'kind' | 'origin' | 'key'>, id: string): void {
    const key = `${incident.kind}\u0000${incident.origin}`
    const open = this.#open.get(key)
    if (open?.firstId === id) this.#open.delete(key)
    else if (open && incident.key === `${open.firstKey}${REPAIRED_SUFFIX}`) open.followedUp = false
  }
}

/**
 * Where the two histories part, as far as the first incident tells: the seq of two entries
 * signed for one seq, else the tree size whose roots differ (the histories part at or before
 * its last seq; AlertServiceOptions.parting then looks for the exact seq).
 */
export function partingSeqOf(incident: Incident): { seq: number; exact: boolean } | undefined {
  if (incident.kind !== 'equivocation' && incident.kind !== 'diverged') return undefined
  if (incident.seqFrom !== undefined) return { seq: incident.seqFrom, exact: true }
  const size = (incident.evidence as { treeSize?: unknown } | undefined)?.treeSize
  return typeof size === 'number' && Number.isSafeInteger(size) && size > 0
    ? { seq: size, exact: false }
    : undefined
}

/**
 * Keeps a folded incident: its evidence in folded/<first id>.<id>.json (attached to the
 * episode by name), and its id in known/ so that it stays silent after a restart too.
 */
export async function keepFolded(
  spool: AlertSpool,
  incident: Incident,
  id: string,
  firstId: string,
): Promise<void> {
  if (await spool.exists('known', id)) return
  await spool.write('folded', `${firstId}.${id}.json`, evidenceJson(incident, id))
  const marker = {
    kind: incident.kind,
    origin: incident.origin,
    detectedAt: incident.detectedAt,
    foldedInto: firstId,
  }
  await spool.write('known', id, `${JSON.stringify(marker)}\n`)
}
