import { parentPort } from 'node:worker_threads'
import { type PackedFrames, parseFrames, unpackFrames } from './parse-frames.ts'

// A parse thread (parse-pool.ts): answers each batch of syslog frames, in order, with each
// frame's events or refusal. It holds no key and writes nothing.
parentPort!.on('message', (packed: PackedFrames) => {
  parentPort!.postMessage(parseFrames(unpackFrames(packed)))
})
