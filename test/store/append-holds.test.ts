import { describe, expect, it } from 'vitest'
import { EhrlogError } from '../../node/core/errors.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')

async function refusal(p: Promise<unknown>): Promise<EhrlogError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(EhrlogError)
  return err as EhrlogError
}

describe('LogStore append holds', () => {
  const tempDir = useTempDirs()

  it('are kept per holder: releasing one keeps the other, and appends name every hold', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A, B])
    await store.open()
    try {
      await store.appendEvents(A, [makeEvent(1)])
      store.holdAppends('hospital-a', 'own-cut', 'the feed is shorter than the cut')
      store.holdAppends('hospital-a', 'own-rotation', 'the key rotates at the cut')
      let err = await refusal(store.appendEvents(A, [makeEvent(2)]))
      expect(err.code).toBe('UNAVAILABLE')
      expect(err.message).toBe(
        'hospital-a is not appending: own-cut: the feed is shorter than the cut; own-rotation: the key rotates at the cut',
      )
      expect(err.details).toEqual({ origin: 'hospital-a', holders: ['own-cut', 'own-rotation'] })
      // Another origin is not held.
      await store.appendEvents(B, [makeEvent(3)])

      // One holder's release leaves the other's hold standing.
      expect(store.releaseAppends('hospital-a', 'own-cut')).toBe(true)
      expect(store.appendHoldOf('hospital-a')).toBe('own-rotation: the key rotates at the cut')
      err = await refusal(store.appendEvents(A, [makeEvent(2)]))
      expect(err.details).toEqual({ origin: 'hospital-a', holders: ['own-rotation'] })
      expect(store.size('hospital-a')).toBe(1)
      // Releasing again, or a holder that never held, changes nothing.
      expect(store.releaseAppends('hospital-a', 'own-cut')).toBe(false)
      expect(store.releaseAppends('hospital-a', 'nobody')).toBe(false)
      expect(store.appendHoldOf('hospital-a')).toBe('own-rotation: the key rotates at the cut')

      // A holder holding again re-words its own hold, not another's.
      store.holdAppends('hospital-a', 'own-rotation', 'waiting for keys-next.enc')
      expect(store.appendHoldOf('hospital-a')).toBe('own-rotation: waiting for keys-next.enc')

      expect(store.releaseAppends('hospital-a', 'own-rotation')).toBe(true)
      expect(store.appendHoldOf('hospital-a')).toBeUndefined()
      await store.appendEvents(A, [makeEvent(2)])
      expect(store.size('hospital-a')).toBe(2)
    } finally {
      await store.close()
    }
  })

  it('refuses a hold without a holder or a reason, holding nothing', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    try {
      expect(() => store.holdAppends('hospital-a', '', 'why')).toThrow(
        expect.objectContaining({ code: 'ARGUMENT_INVALID' }),
      )
      expect(() => store.holdAppends('hospital-a', 'test', '')).toThrow(
        expect.objectContaining({ code: 'ARGUMENT_INVALID' }),
      )
      expect(store.appendHoldOf('hospital-a')).toBeUndefined()
      await store.appendEvents(A, [makeEvent(1)])
      expect(store.size('hospital-a')).toBe(1)
    } finally {
      await store.close()
    }
  })
})
