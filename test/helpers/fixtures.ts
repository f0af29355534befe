import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { ed25519RawPublicKey } from '../../node/core/tree-head.ts'
import { OwnFeed, type OwnFeedOptions } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { type FeedBatch, LogStore, type Signer, type StoreKeys } from '../../node/store/index.ts'

export function makeSigner(origin: string): Signer & { publicKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync('ed25519')
  return { origin, privateKey, publicKey: ed25519RawPublicKey(privateKey) }
}

export function makeStoreKeys(): StoreKeys {
  return { valueKey: new Uint8Array(randomBytes(32)), indexKey: new Uint8Array(randomBytes(32)) }
}

/** A valid event; `i` varies patient, actor and time so indexes have something to find. */
export function makeEvent(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return parseEvent({
    patientId: `patient-${i % 7}`,
    patientName: `Patient Name ${i % 7}`,
    actorId: `dr-${i % 3}`,
    action: 'read',
    resource: 'user_prescriptions',
    time: new Date(Date.UTC(2023, 11, 4, 19, 0, 0) + i * 1000).toISOString(),
    notes: `note number ${i}`,
    ...overrides,
  })
}

export function openStore(
  path: string,
  keys: StoreKeys,
  signers: ReadonlyArray<{ origin: string; publicKey: Uint8Array }>,
): LogStore {
  const byOrigin = new Map(signers.map((s) => [s.origin, s.publicKey]))
  return new LogStore({ path, keys, originKey: (o) => byOrigin.get(o), sync: false })
}

/** The bodies of `origin`'s entries after seq `after` in `store`: what a test just caused. */
export async function bodiesAfter(
  store: Pick<LogStore, 'entries'>,
  origin: string,
  after: number,
): Promise<AuditEvent[]> {
  const bodies: AuditEvent[] = []
  for await (const e of store.entries(origin, after + 1)) bodies.push(e.entry.body as AuditEvent)
  return bodies
}

/**
 * A fixed network VRF key for tests that build network.json by hand (the secret is RFC 9381
 * Appendix B.3's first example key, so it is public: tests only).
 */
export const TEST_VRF_SECRET_KEY = Uint8Array.from(
  Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
)
export const TEST_VRF_PUBLIC_KEY_HEX =
  'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'

/** The own feed of `signer` on `store`, with every batch it gossips kept in `published`. */
export function ownFeedOn(
  store: OwnFeedOptions['store'],
  signer: Signer,
  opts: Pick<OwnFeedOptions, 'fence' | 'fenceWaitMs'> = {},
): { feed: OwnFeed; published: FeedBatch[] } {
  const published: FeedBatch[] = []
  const feed = new OwnFeed({
    store,
    signer,
    gossip: { publish: (batch) => published.push(batch) },
    logger: silentLogger(),
    ...opts,
  })
  return { feed, published }
}
