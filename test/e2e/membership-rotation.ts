import type { KeyObject } from 'node:crypto'
import { expect } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { openNodeDir } from '../../node/identity/index.ts'
import { storeOfNode } from '../../node/node-store.ts'
import type { Member } from './harness.ts'
import { feedSizes, getStatus, waitFor } from './node-api.ts'

/*
 * Steps of the key-rotation story of membership-change.test.ts: a stolen key played on a
 * stopped folder, and what the members must then show.
 */

/**
 * Appends `event` to `m`'s own feed in its stopped folder, signed by `key` (a thief holding a
 * rotated-out key, or a forgotten copy of the folder). Returns the entry's seq.
 */
export async function appendOffline(m: Member, key: KeyObject, event: AuditEvent): Promise<number> {
  const store = storeOfNode(await openNodeDir(m.dir))
  await store.open()
  try {
    const { entries } = await store.appendEvents({ origin: m.name, privateKey: key }, [event])
    return entries[0]!.entry.seq
  } finally {
    await store.close()
  }
}

/** Waits until every one of `holders` holds `origin`'s whole feed as `origin` has it. */
export async function feedHeldBy(holders: Member[], origin: Member): Promise<void> {
  await waitFor(
    `${holders.map((m) => m.name).join(', ')} to hold ${origin.name}'s feed`,
    async () => {
      const size = (await feedSizes(origin)).get(origin.name) ?? 0
      const held = await Promise.all(
        holders.map(async (m) => (await feedSizes(m)).get(origin.name)),
      )
      return { done: held.every((h) => h === size), value: { size, held } }
    },
    30_000,
  )
}

/**
 * `origin`'s feed stays at `size` at each of `members` once they are connected to it again
 * (it offers more, signed by a retired key: refused), and each one's admins are alerted
 * (`alerted(m)`).
 */
export async function expectFeedRefusedAndAlerted(
  members: Member[],
  origin: string,
  size: number,
  alerted: (m: Member) => boolean,
): Promise<void> {
  await waitFor(
    `${members.map((m) => m.name).join(', ')} connected to ${origin} again`,
    async () => {
      const seen = await Promise.all(members.map((m) => getStatus(m)))
      const done = seen.every((st) => st.peers.some((p) => p.name === origin && p.connected))
      return { done, value: seen.map((st) => st.peers) }
    },
    30_000,
  )
  await new Promise((r) => setTimeout(r, 5_000)) // gossip and a few sync rounds
  for (const m of members)
    expect(
      (await feedSizes(m)).get(origin),
      `${origin}'s feed at ${m.name}: what the retired key signed is refused`,
    ).toBe(size)
  for (const m of members)
    await waitFor(
      `${m.name}'s admins to be alerted of the rotated-out key`,
      async () => ({ done: alerted(m), value: m.name }),
      60_000,
      500,
    )
}
