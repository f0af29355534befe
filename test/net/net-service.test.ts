import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { makeNetwork, type TestNode } from './harness.ts'

describe('NetService lifecycle', () => {
  it('refuses publish before start, and a stop during start leaves nothing running', async () => {
    const network = await makeNetwork(['hospital-a', 'hospital-b'])
    const a = network.nodes[0] as TestNode
    const starting = network.start(a)
    const net = a.net
    expect(() => net?.publish(a.writer.next(1))).toThrow(
      expect.objectContaining({ code: 'UNAVAILABLE' }),
    )
    const stopped = net?.stop()
    await starting
    await stopped
    await net?.stop()
    expect(net?.addresses()).toEqual([])
    expect(net?.peers()).toEqual([])
    // The port is free again.
    await new Promise<void>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(a.port, '127.0.0.1', () => server.close(() => resolve()))
    })
    await expect(net?.start()).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })
    // What the network serves is fixed before it starts.
    expect(() => net?.handleControl('late', () => true)).toThrow(
      expect.objectContaining({ code: 'ARGUMENT_INVALID' }),
    )
    expect(() => net?.gateAccepts((_batch, store) => store())).toThrow(
      expect.objectContaining({ code: 'ARGUMENT_INVALID' }),
    )
  })
})
