// Events that keep a large original message (up to 16 KiB, ~22 KiB of base64 each) make
// append batches of many MiB: they must still replicate (sync pulls what gossip cannot carry).
import { afterEach, describe, expect, it } from 'vitest'
import type { EhrlogNode } from '../../node/node.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { type AtnaWorld, SENDER, sendOverTls, startAtnaNetwork } from './harness.ts'
import { DICOM_PATIENT_RECORD, framed, syslogOf } from './messages.ts'

const sizeOf = (node: EhrlogNode, origin: string) => node.store.sizes().get(origin) ?? 0

describe('ATNA messages near the kept-original limit', () => {
  const tempDir = useTempDirs()
  let world: AtnaWorld | undefined
  afterEach(async () => {
    await Promise.all(world?.nodes.map((n) => n.stop()) ?? [])
    world = undefined
  })

  it('1,000 messages of ~15 KiB each are appended and reach both other replicas', async () => {
    world = await startAtnaNetwork(await tempDir(), 3)
    const [first] = world.nodes
    const origin = first!.status().node
    const before = sizeOf(first!, origin)
    // Padding in an element the mapping ignores: the message is kept whole in `original`.
    const padding = `<ParticipantObjectDetail type="x" value="${'A'.repeat(14_000)}"/>`
    const count = 1000
    const frames = Array.from({ length: count }, (_, i) =>
      framed(
        syslogOf(
          DICOM_PATIENT_RECORD.replace('PAT-0042^^^&amp;1.2.3.4&amp;ISO', `P-${i}`).replace(
            '<ParticipantObjectName>',
            `${padding}<ParticipantObjectName>`,
          ),
        ),
      ),
    )
    await sendOverTls(world, world.ehr, Buffer.concat(frames))
    await waitFor(
      'appended',
      () => first!.status().syslog?.find((s) => s.sender === SENDER)?.appended === count,
      60_000,
    )
    for (const node of world.nodes)
      await waitFor('replicated', () => sizeOf(node, origin) === before + count, 90_000)
    const [entry] = await first!.store.getEntries([{ origin, seq: before + 1 }])
    expect((entry!.entry.body as { original?: string }).original?.length).toBeGreaterThan(18_000)
  }, 180_000)
})
