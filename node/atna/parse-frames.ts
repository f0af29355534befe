import { isEhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { eventsOfAuditMessage } from './audit-message.ts'
import { parseSyslogMessage } from './syslog-message.ts'

/** Why one syslog message was refused: what the listener logs and counts. */
export interface FrameRefusal {
  code: string
  field: string | undefined
  reason: string
}

/** One syslog message's outcome: its events, or why it was refused. */
export type ParsedFrame = { events: AuditEvent[] } | { refused: FrameRefusal }

/** Frames end to end in one buffer (so a batch is transferred to a thread, not copied). */
export interface PackedFrames {
  bytes: Uint8Array
  /** Frame i is bytes.subarray(ends[i - 1] ?? 0, ends[i]). */
  ends: Uint32Array
}

/**
 * RFC 5424 header, then the audit message: each frame's events or refusal. Never throws for
 * a bad frame; the work is the same in this thread and on a parse thread (parse-pool.ts).
 */
export function parseFrames(frames: readonly Uint8Array[]): ParsedFrame[] {
  return frames.map((frame) => {
    try {
      const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
      return { events: eventsOfAuditMessage(parseSyslogMessage(buf).msg) }
    } catch (err) {
      return { refused: refusalOf(err) }
    }
  })
}

export function refusalOf(err: unknown): FrameRefusal {
  const ehrlog = isEhrlogError(err)
  return {
    code: ehrlog ? err.code : 'INTERNAL',
    field: ehrlog && typeof err.details.field === 'string' ? err.details.field : undefined,
    reason: err instanceof Error ? err.message : String(err),
  }
}

export function packFrames(frames: readonly Uint8Array[]): PackedFrames {
  const ends = new Uint32Array(frames.length)
  let total = 0
  frames.forEach((f, i) => {
    total += f.byteLength
    ends[i] = total
  })
  const bytes = new Uint8Array(total)
  frames.forEach((f, i) => {
    bytes.set(f, ends[i]! - f.byteLength)
  })
  return { bytes, ends }
}

export function unpackFrames({ bytes, ends }: PackedFrames): Uint8Array[] {
  return Array.from(ends, (end, i) => bytes.subarray(ends[i - 1] ?? 0, end))
}
