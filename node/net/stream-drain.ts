import type { MessageStream } from '@libp2p/interface'

/**
 * Waits until `stream` has at most `highWaterBytes` queued for sending, it closes, `signal`
 * aborts, or `timeoutMs` passes; returns false on timeout or abort. Listens for the 'drain'
 * event: in @libp2p/utils 7.4.1 `stream.onDrain()` resolves at once after the first drain
 * even while the stream is still full, so a loop awaiting it spins (docs/performance.md).
 */
export async function waitForDrain(
  stream: MessageStream,
  highWaterBytes: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (stream.status === 'open' && stream.writeBufferLength > highWaterBytes) {
    const left = deadline - Date.now()
    if (left <= 0 || signal?.aborted) return false
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        stream.removeEventListener('drain', done)
        stream.removeEventListener('close', done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, left)
      stream.addEventListener('drain', done)
      stream.addEventListener('close', done)
      signal?.addEventListener('abort', done)
    })
  }
  return true
}
