/*
 * Records crossing to a worker thread (the seal worker, verify's check pool) as a few flat
 * buffers instead of thousands of objects; the buffers are transferred, not copied.
 */

/** Records as read from LevelDB, packed end to end. */
export interface RawRecords {
  count: number
  keys: Uint8Array
  /** keys[i] is keys.subarray(keyEnds[i - 1] ?? 0, keyEnds[i]); the same for values. */
  keyEnds: Uint32Array
  values: Uint8Array
  valueEnds: Uint32Array
}

export function packRecords(records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): RawRecords {
  let keyBytes = 0
  let valueBytes = 0
  for (const [key, value] of records) {
    keyBytes += key.byteLength
    valueBytes += value.byteLength
  }
  // Not zero-filled (every byte is written below), and each its own ArrayBuffer, never
  // Buffer's shared pool: they are transferred.
  const raw: RawRecords = {
    count: records.length,
    keys: Buffer.allocUnsafeSlow(keyBytes),
    keyEnds: new Uint32Array(records.length),
    values: Buffer.allocUnsafeSlow(valueBytes),
    valueEnds: new Uint32Array(records.length),
  }
  let k = 0
  let v = 0
  for (let i = 0; i < records.length; i++) {
    const [key, value] = records[i]!
    raw.keys.set(key, k)
    raw.values.set(value, v)
    k += key.byteLength
    v += value.byteLength
    raw.keyEnds[i] = k
    raw.valueEnds[i] = v
  }
  return raw
}

/** Views of the records packed by packRecords (no copy). */
export function unpackRecords(raw: RawRecords): Array<[Uint8Array, Uint8Array]> {
  const out: Array<[Uint8Array, Uint8Array]> = []
  for (let i = 0; i < raw.count; i++) {
    out.push([
      raw.keys.subarray(i === 0 ? 0 : raw.keyEnds[i - 1], raw.keyEnds[i]),
      raw.values.subarray(i === 0 ? 0 : raw.valueEnds[i - 1], raw.valueEnds[i]),
    ])
  }
  return out
}

/** The buffers of a job's typed arrays, to transfer (not copy) when posting it to a thread. */
export function transferables(packed: object): ArrayBuffer[] {
  return Object.values(packed)
    .filter((value): value is ArrayBufferView => ArrayBuffer.isView(value))
    .map((array) => array.buffer as ArrayBuffer)
}
