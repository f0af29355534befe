// A flood is bounded: while appends wait, a connection holding more than its byte cap is
// paused (TCP backpressure), and resumes once the ingest queue catches up.
import { afterEach, describe, expect, it } from 'vitest'
import { SenderCounts, type SyslogListener } from '../../node/atna/index.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { sendTlsBytes, startLoneListener } from './harness.ts'
import { DICOM_PATIENT_RECORD, framed, syslogOf } from './messages.ts'

describe('syslog listener backpressure', () => {
  const tempDir = useTempDirs()
  let listener: SyslogListener | undefined
  afterEach(async () => {
    await listener?.stop()
    listener = undefined
  })

  it('pauses a connection over its byte cap until appends finish, then takes the rest', async () => {
    const dir = await tempDir()
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const counts = new SenderCounts()
    const started = await startLoneListener(dir, {
      submit: () => gate, // the ingest queue is busy until the gate opens
      counts,
      maxConnectionBytes: 64 * 1024,
    })
    listener = started.listener
    const { ca, ehr } = started
    const count = 2000
    const frame = framed(syslogOf(DICOM_PATIENT_RECORD))
    const wire = Buffer.concat(Array.from({ length: count }, () => frame))
    const socket = sendTlsBytes(listener.port, ca, ehr, wire)
    const tally = () => counts.tallies().find((t) => t.sender === 'ehr.test')
    await waitFor('first messages', () => (tally()?.received ?? 0) > 0)
    await new Promise((r) => setTimeout(r, 1000))
    // ~64 KiB of ~1.7 KiB messages, plus what one read brought: far from all of them.
    const held = tally()!.received
    expect(held).toBeLessThan(120)
    expect(held * frame.byteLength).toBeLessThan(wire.byteLength / 10)
    open()
    await waitFor('all appended', () => tally()?.appended === count, 60_000)
    expect(tally()).toMatchObject({ received: count, appended: count, refused: 0 })
    socket.destroy()
  }, 60_000)
})
