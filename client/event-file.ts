import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { EhrlogError, isEhrlogError } from '../node/core/errors.ts'
import { type AuditEvent, parseEvent } from '../node/core/event.ts'

/**
 * Reads an NDJSON file of audit events, one JSON object a line (blank lines skipped), and
 * yields validated events in batches. Errors name the file, line and field.
 */
export async function* readEventBatches(
  path: string,
  batchSize: number,
): AsyncGenerator<AuditEvent[]> {
  let batch: AuditEvent[] = []
  let lineNo = 0
  let lines: AsyncIterable<string>
  try {
    const stream = createReadStream(path, { encoding: 'utf8' })
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', reject)
    })
    lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    })
  }
  for await (const line of lines) {
    lineNo++
    if (line.trim() === '') continue
    batch.push(parseLine(path, lineNo, line))
    if (batch.length === batchSize) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

function parseLine(path: string, lineNo: number, line: string): AuditEvent {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new EhrlogError('EVENT_INVALID', `${path}:${lineNo}: not valid JSON`, {
      details: { line: lineNo },
    })
  }
  try {
    return parseEvent(value)
  } catch (err) {
    if (!isEhrlogError(err)) throw err
    throw new EhrlogError('EVENT_INVALID', `${path}:${lineNo}: ${err.message}`, {
      details: { ...err.details, line: lineNo },
    })
  }
}

/** Validates the whole file first and counts its events, so a bad line writes nothing. */
export async function countValidEvents(path: string): Promise<number> {
  let count = 0
  for await (const batch of readEventBatches(path, 10_000)) count += batch.length
  if (count === 0) throw new EhrlogError('FILE_INVALID', `${path} holds no events`)
  return count
}
