import { describe, expect, it } from 'vitest'
import { BackgroundTask, PartList, type Startable } from '../../node/lifecycle/index.ts'
import { silentLogger } from '../../node/logger.ts'

/** A part that records its starts and stops in `log`; `fail` makes that step throw. */
function part(name: string, log: string[], fail: { start?: boolean; stop?: boolean } = {}) {
  return [
    name,
    {
      async start() {
        log.push(`start ${name}`)
        if (fail.start) throw new Error(`${name} cannot start`)
      },
      async stop() {
        log.push(`stop ${name}`)
        if (fail.stop) throw new Error(`${name} cannot stop`)
      },
    } satisfies Startable,
  ] as const
}

describe('PartList', () => {
  it('starts in list order and stops in reverse, once however often stop is called', async () => {
    const log: string[] = []
    const parts = new PartList([part('a', log), part('b', log), part('c', log)], silentLogger())
    await parts.start()
    await Promise.all([parts.stop(), parts.stop()])
    await parts.stop()
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
    await expect(parts.start()).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })
  })

  it('a failed start stops the failed part and every part before it, in reverse, and rethrows', async () => {
    const log: string[] = []
    const parts = new PartList(
      [part('a', log), part('b', log), part('c', log, { start: true }), part('d', log)],
      silentLogger(),
    )
    await expect(parts.start()).rejects.toThrow('c cannot start')
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
    await parts.stop() // nothing left to release
    expect(log).toHaveLength(6)
  })

  it('a part that fails to stop does not keep the others running; stop rejects with it', async () => {
    const log: string[] = []
    const parts = new PartList(
      [part('a', log), part('b', log, { stop: true }), part('c', log)],
      silentLogger(),
    )
    await parts.start()
    await expect(parts.stop()).rejects.toThrow('b cannot stop')
    expect(log.slice(3)).toEqual(['stop c', 'stop b', 'stop a'])
  })

  it('a stop during start waits for the start, then releases everything', async () => {
    const log: string[] = []
    let release = () => {}
    const slow: Startable = {
      start: () =>
        new Promise<void>((resolve) => {
          release = resolve
        }).then(() => void log.push('start slow')),
      stop: async () => void log.push('stop slow'),
    }
    const parts = new PartList([part('a', log), ['slow', slow]], silentLogger())
    const started = parts.start()
    await Promise.resolve()
    const stopped = parts.stop()
    release()
    await started
    await stopped
    expect(log).toEqual(['start a', 'start slow', 'stop slow', 'stop a'])
  })
})

describe('BackgroundTask', () => {
  it('stop() aborts the work and waits for it to end; a failure is logged, never thrown', async () => {
    let ended = false
    const task = new BackgroundTask(
      'waiting',
      (signal) =>
        new Promise<void>((_, reject) => {
          signal.addEventListener('abort', () => {
            setTimeout(() => {
              ended = true
              reject(new Error('aborted'))
            }, 20)
          })
        }),
      silentLogger(),
    )
    await task.start()
    expect(ended).toBe(false)
    await task.stop()
    expect(ended).toBe(true)
    await task.stop()
  })
})
