import { z } from 'zod'
import { isIJsonText } from '../event.ts'
import { ORIGIN_PATTERN } from '../layout.ts'
import { proposalSchema } from './membership-chain-types.ts'

/*
 * The body of a `membership` entry (docs/format.md, "Entry kinds"): what a node saw of its
 * network's governance, written into its own feed so that it is tamper-evident and replicated.
 * Every node records what it saw itself: a proposal (once), each member signature it took,
 * each change it applied, and the governance alerts. Here in core because the store checks
 * every body it accepts (node/membership/governance*.ts writes them).
 */

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))
const name = z.string().regex(ORIGIN_PATTERN, 'want a node name like hospital-a')
/** An admin's username (name@node) when an admin of this node acted; absent for gossip. */
const by = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,31}@[a-z0-9][a-z0-9-]{0,62}$/)
  .optional()
const summary = z
  .string()
  .min(1)
  .max(500)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters')
  .refine(isIJsonText, 'must not contain lone surrogates or Unicode noncharacters (I-JSON)')
/**
 * A proposal's id: the hash of the version it makes when applied (versionHash of its signed
 * message), so a pending proposal and the version it becomes share one name.
 */
const id = hex(32)
const version = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/** The governance alerts a node emails and records (docs/alerts.md, "Membership"). */
export const MEMBERSHIP_ALERTS = [
  'membership-equivocation',
  'lost-key-rotation',
  'rotated-key-signature',
] as const
export type MembershipAlertKind = (typeof MEMBERSHIP_ALERTS)[number]

export const membershipRecordSchema = z.discriminatedUnion('op', [
  /** A proposal this node saw first (proposed here by an admin, or received by gossip). */
  z.strictObject({ op: z.literal('proposed'), id, proposal: proposalSchema, by }),
  /**
   * A member's Ed25519 signature of the proposal's message this node verified and took; with
   * `oldKey` true, the rotated key's own signature (oldKeySignature, 64 or 96 bytes).
   */
  z.strictObject({
    op: z.literal('signed'),
    id,
    baseVersion: version,
    signer: name,
    signature: z.string().regex(/^(?:[0-9a-f]{128}|[0-9a-f]{192})$/),
    oldKey: z.literal(true).optional(),
    by,
  }),
  /** The change this node applied at a checkpoint cut: `version` is the one it made. */
  z.strictObject({
    op: z.literal('applied'),
    id,
    version: version.min(1),
    signers: z.array(name).max(1000),
  }),
  /**
   * The marker of this node's own Ed25519 rotation (docs/format.md, "Entry kinds"): version
   * `version` (hash `id`) rotated this node's tree-head key to `ed25519PublicKey`; this entry is
   * the last one its old key signs (a head at exactly its seq), every later head is signed by
   * the new key. Members take the old key's era to end here (node/membership/origin-keys.ts).
   */
  z.strictObject({
    op: z.literal('key-rotated'),
    id,
    version: version.min(1),
    ed25519PublicKey: hex(32),
  }),
  /** A governance alert; `ids` are the proposals it is about (both, for an equivocation). */
  z.strictObject({
    op: z.literal('alert'),
    alert: z.enum(MEMBERSHIP_ALERTS),
    /** The member it is about (the rotated one; for an equivocation, who signed both). */
    members: z.array(name).max(1000),
    ids: z.array(id).max(2),
    version,
    summary,
  }),
])

export type MembershipRecord = z.output<typeof membershipRecordSchema>
