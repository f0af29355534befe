// The reads of one event-loop turn make one batch (one parse job, one submit), and each
// connection's messages still reach the ingest queue in the order they were sent, each
// counted once.
import { afterEach, describe, expect, it } from 'vitest'
import { ParsePool, SenderCounts, type SyslogListener } from '../../node/atna/index.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { waitFor } from '../../scripts/in-process-network.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'
import { sendTlsBytes, startLoneListener } from './harness.ts'
import { DICOM_PATIENT_RECORD, framed, syslogOf } from './messages.ts'

describe('syslog listener batches', () => {
  const tempDir = useTempDirs()
  let listener: SyslogListener | undefined
  let pool: ParsePool | undefined
  afterEach(async () => {
    await listener?.stop()
    await pool?.close()
    listener = undefined
    pool = undefined
  })

  it("batch the frames of a turn's reads, keeping each connection's order and exact counts", async () => {
    const dir = await tempDir()
    const submits: AuditEvent[][] = []
    const counts = new SenderCounts()
    pool = new ParsePool(1)
    const started = await startLoneListener(dir, {
      submit: async (events) => {
        submits.push(events)
      },
      counts,
      pool,
    })
    listener = started.listener
    const { ca, ehr } = started
    const perConnection = 1500
    const frame = (c: number, i: number) =>
      framed(
        syslogOf(DICOM_PATIENT_RECORD.replace('PAT-0042^^^&amp;1.2.3.4&amp;ISO', `C${c}-${i}`)),
      )
    const wires = [0, 1, 2].map((c) =>
      Buffer.concat(Array.from({ length: perConnection }, (_, i) => frame(c, i))),
    )
    for (const wire of wires) {
      sendTlsBytes(listener.port, ca, ehr, wire)
    }
    const total = 3 * perConnection
    const tally = () => counts.tallies().find((t) => t.sender === 'ehr.test')
    await waitFor('all appended', () => tally()?.appended === total, 60_000)
    expect(tally()).toMatchObject({ received: total, appended: total, refused: 0 })
    const ids = submits.flat().map((e) => e.patientId)
    expect(ids).toHaveLength(total)
    for (const c of [0, 1, 2]) {
      expect(ids.filter((id) => id.startsWith(`C${c}-`))).toEqual(
        Array.from({ length: perConnection }, (_, i) => `C${c}-${i}`),
      )
    }
    // A TLS record (16 KiB) completes at most 12 of these ~1.4 KiB frames; batches hold the
    // frames of several records.
    expect(frame(0, 0).byteLength).toBeGreaterThan(1400)
    const largest = Math.max(...submits.map((s) => s.length))
    expect(largest).toBeGreaterThan(12)
    // ... and at most about one TCP read (64 KiB, and the read that passed it).
    expect(largest * frame(0, 0).byteLength).toBeLessThanOrEqual((64 + 32) * 1024)
  }, 90_000)
})
