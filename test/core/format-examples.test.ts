import { describe, expect, it } from 'vitest'
import { INCIDENT_ID_TAG, incidentId } from '../../node/alerts/incident.ts'
import { deriveLoginKey } from '../../node/core/auth/password-key.ts'
import {
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  verifyBlsProofOfPossession,
} from '../../node/core/bls.ts'
import { verifyEntryBody } from '../../node/core/body.ts'
import {
  answersHashOf,
  type BundleManifest,
  bundleManifestMessage,
  isBundleSignatureValid,
  signBundleManifest,
} from '../../node/core/bundle-manifest.ts'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import {
  aggregateCosignatures,
  checkpointId,
  checkpointRoot,
  checkpointSigningMessage,
  cosignedFromJson,
  cosignedToJson,
  defaultQuorum,
  feedCutBytes,
  verifyCosignedCheckpoint,
} from '../../node/core/checkpoint.ts'
import { decodeEntry, type Entry, encodeEntry, makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { type AuditEvent, parseEvent } from '../../node/core/event.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { EMPTY_HASH, PatientIndex } from '../../node/core/index/index.ts'
import { loginMessage, sessionMessage, TAGS, treeHeadMessage } from '../../node/core/layout.ts'
import { EMPTY_ROOT, hashLeaf, MemoryTree, sha256 } from '../../node/core/merkle/index.ts'
import {
  ed25519PrivateKey,
  ed25519RawPublicKey,
  signTreeHead,
  verifyEd25519,
} from '../../node/core/tree-head.ts'
import { deriveKey } from '../../node/identity/master-key.ts'
import { type DocExample, hexFields, readFormatExamples, tableRows } from './format-doc.ts'

// Every worked example of docs/format.md, read from the document and recomputed with the code.
const examples = readFormatExamples()
const utf8 = new TextEncoder()

function example(name: string): DocExample {
  const found = examples.get(name)
  if (!found) throw new Error(`docs/format.md has no example ${name}`)
  return found
}

/** The labelled hex values of a text example; a missing label fails the test. */
function fieldsOf(name: string): (label: string) => string {
  const fields = hexFields(example(name))
  return (label) => {
    const value = fields.get(label)
    if (!value) throw new Error(`example ${name} has no hex for ${JSON.stringify(label)}`)
    return value
  }
}

/** The one line of a json example. */
function jsonOf(name: string): string {
  const { kind, lines } = example(name)
  expect(kind).toBe('json')
  expect(lines).toHaveLength(1)
  return lines[0]!
}

const bytes = (hex: string) => fromHex(hex) as Uint8Array
const blsSecretKey = (i: number) => {
  const key = new Uint8Array(32)
  key[31] = i + 1
  return key
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : 'not-ehrlog'
  }
}

describe('docs/format.md worked examples, recomputed with the code', () => {
  it('holds every example this test checks, and no other', () => {
    expect([...examples.keys()].sort()).toEqual(
      [
        'entry-event',
        'entry-event-hashes',
        'entry-user',
        'entry-alert',
        'entry-kinds-hashes',
        'incident-id',
        'tree-head',
        'network',
        'network-id',
        'bls-keys',
        'checkpoint-cuts',
        'checkpoint',
        'cosigned-checkpoint',
        'login-session',
        'login-key',
        'bundle-manifest',
        'bundle-signature',
        'tags',
        'hkdf-keys',
        // Checked in test/core/trust/membership-chain-format.test.ts.
        'membership-change-1',
        'membership-change-1-bytes',
        'membership-change-2',
        'membership-change-2-bytes',
        'membership-change-3',
        'membership-change-3-bytes',
        // Checked in test/membership/governance-format.test.ts.
        'entry-membership',
        'entry-membership-hash',
        // Checked in test/core/index/format-examples.test.ts.
        'index-vrf',
        'index-leaf',
        'index-proofs',
        // Checked in test/core/stats/format-examples.test.ts.
        'stats-tags',
        'stats-counters',
        'stats-dealing',
        'stats-key-anchors',
        'stats-ciphertext',
        'stats-share',
        'stats-bundle-header',
      ].sort(),
    )
  })

  it('event entry: its bytes are the canonical encoding, its hash the leaf hash, and the feed of two', () => {
    const text = jsonOf('entry-event')
    const field = fieldsOf('entry-event-hashes')
    const decoded = decodeEntry(utf8.encode(text))
    expect(decoded.bytes.byteLength).toBe(376)
    const entry = decoded.entry as Entry<Record<string, unknown>>
    verifyEntryBody('event', entry.body, entry.origin)
    const made = makeEntry(
      'hospital-a',
      1,
      undefined,
      'event',
      parseEvent(entry.body),
      entry.recorded,
    )
    expect(new TextDecoder().decode(made.bytes)).toBe(text)
    expect(toHex(made.hash)).toBe(field('entry hash'))
    const next = makeEntry('hospital-a', 2, made.hash, 'event', entry.body, entry.recorded)
    expect(toHex(next.hash)).toBe(field('next hash'))
    expect(toHex(new MemoryTree([made.hash, next.hash]).root())).toBe(field('root of size 2'))
  })

  it('user and alert entries: canonical, valid for their kind and origin, with the hashes shown', () => {
    const field = fieldsOf('entry-kinds-hashes')
    const cases = [
      { name: 'entry-user', kind: 'user', length: 425, hash: field('user entry hash') },
      { name: 'entry-alert', kind: 'alert', length: 471, hash: field('alert entry hash') },
    ]
    for (const c of cases) {
      const text = jsonOf(c.name)
      const decoded = decodeEntry(utf8.encode(text))
      expect(decoded.entry.kind).toBe(c.kind)
      expect(decoded.bytes.byteLength).toBe(c.length)
      verifyEntryBody(decoded.entry.kind, decoded.entry.body, decoded.entry.origin)
      const again = encodeEntry(JSON.parse(text) as Entry)
      expect(new TextDecoder().decode(again.bytes)).toBe(text)
      expect(toHex(again.hash)).toBe(c.hash)
    }
  })

  it('incident id: SHA-256 of the tag, 0x00 and the identity, as incidentId computes it', () => {
    const field = fieldsOf('incident-id')
    expect(field('tag')).toBe(toHex(utf8.encode(INCIDENT_ID_TAG)))
    expect(field('separator')).toBe('00')
    const identity = { entryIds: ['hospital-a:1'], kind: 'modified', origin: 'hospital-a' }
    expect(field('identity')).toBe(toHex(utf8.encode(canonicalJson(identity))))
    const hashed = sha256(bytes(field('tag') + field('separator') + field('identity')))
    expect(toHex(hashed)).toBe(field('incident id'))
    const id = incidentId({
      kind: 'modified',
      origin: 'hospital-a',
      entryIds: ['hospital-a:1'],
      reportingNode: 'hospital-c',
      detectedAt: '2026-01-02T03:04:05.678Z',
      summary: 'entry hospital-a:1 was modified in the replica of hospital-c',
      evidence: {},
    })
    expect(id).toBe(field('incident id'))
    const alert = JSON.parse(jsonOf('entry-alert')) as Entry<{ incidentId: string }>
    expect(alert.body.incidentId).toBe(id)
  })

  it('tree head: the message and the Ed25519 signature', () => {
    const field = fieldsOf('tree-head')
    const privateKey = ed25519PrivateKey(bytes(field('seed')))
    expect(toHex(ed25519RawPublicKey(privateKey))).toBe(field('public key'))
    const root = bytes(fieldsOf('entry-event-hashes')('entry hash'))
    const message = treeHeadMessage('hospital-a', 1, root)
    expect(message.byteLength).toBe(71)
    expect(toHex(message)).toBe(field('message'))
    const head = signTreeHead(privateKey, 'hospital-a', 1, root)
    expect(toHex(head.signature)).toBe(field('signature'))
    expect(verifyEd25519(bytes(field('public key')), message, head.signature)).toBe(true)
  })

  it('network id and BLS keys: SHA-256 of the canonical network.json; keys and proofs from secret keys 1, 2, 3', () => {
    const network = JSON.parse(jsonOf('network')) as {
      vrfPublicKey: string
      members: Array<{
        ed25519PublicKey: string
        blsPublicKey: string
        blsProofOfPossession: string
      }>
    }
    const canonical = utf8.encode(canonicalJson(network))
    expect(canonical.byteLength).toBe(1727)
    // The steps of Membership.fromJson: RFC 8785 bytes, then SHA-256.
    expect(toHex(sha256(canonical))).toBe(fieldsOf('network-id')('network id'))
    const field = fieldsOf('bls-keys')
    network.members.forEach((member, i) => {
      const secretKey = blsSecretKey(i)
      expect(toHex(secretKey)).toBe(field(`secret key ${i}`))
      expect(toHex(blsPublicKey(secretKey))).toBe(field(`public key ${i}`))
      expect(toHex(blsProofOfPossession(secretKey))).toBe(field(`pop ${i}`))
      expect(member.blsPublicKey).toBe(field(`public key ${i}`))
      expect(member.blsProofOfPossession).toBe(field(`pop ${i}`))
      expect(
        verifyBlsProofOfPossession(bytes(field(`public key ${i}`)), bytes(field(`pop ${i}`))),
      ).toBe(true)
    })
    expect(network.members[0]!.ed25519PublicKey).toBe(fieldsOf('tree-head')('public key'))
    // The network's VRF key is the one of the per-patient index example.
    expect(network.vrfPublicKey).toBe(fieldsOf('index-vrf')('VRF public key'))
  })

  it('cosigned checkpoint: cut leaves, root, message, id, signatures, bitmap, aggregate and JSON', () => {
    const field = fieldsOf('checkpoint')
    const json = jsonOf('cosigned-checkpoint')
    const cosignedInDoc = cosignedFromJson(JSON.parse(json))
    const { checkpoint } = cosignedInDoc
    expect(toHex(checkpoint.networkId)).toBe(fieldsOf('network-id')('network id'))
    expect(checkpoint.timeMs).toBe(Date.UTC(2026, 0, 1, 12))
    // The cuts anchor the feeds of the entry examples.
    expect(toHex(checkpoint.feeds[0]!.root)).toBe(fieldsOf('entry-event-hashes')('root of size 2'))
    expect(toHex(checkpoint.feeds[1]!.root)).toBe(fieldsOf('entry-kinds-hashes')('user entry hash'))
    expect(toHex(checkpoint.feeds[2]!.root)).toBe(toHex(EMPTY_ROOT))
    // Index roots: hospital-a's two events are about the event example's patient; the user
    // entry and the empty feed index no one (the empty tree's root, 32 zero bytes).
    const index = new PatientIndex(bytes(fieldsOf('index-vrf')('VRF secret key')))
    const patientId = (decodeEntry(utf8.encode(jsonOf('entry-event'))).entry.body as AuditEvent)
      .patientId
    index.applyEntry('hospital-a', 1, patientId)
    index.applyEntry('hospital-a', 2, patientId)
    expect(toHex(checkpoint.feeds[0]!.indexRoot)).toBe(toHex(index.indexRoot('hospital-a')))
    expect(toHex(checkpoint.feeds[1]!.indexRoot)).toBe(toHex(EMPTY_HASH))
    expect(toHex(checkpoint.feeds[2]!.indexRoot)).toBe(toHex(EMPTY_HASH))

    const cuts = example('checkpoint-cuts').lines
    expect(checkpoint.feeds.map((cut) => new TextDecoder().decode(feedCutBytes(cut)))).toEqual(cuts)
    checkpoint.feeds.forEach((cut, i) => {
      expect(toHex(hashLeaf(feedCutBytes(cut)))).toBe(field(`leaf ${i}`))
    })
    expect(toHex(checkpointRoot(checkpoint))).toBe(field('root'))
    const message = checkpointSigningMessage(checkpoint)
    expect(message.byteLength).toBe(133)
    expect(toHex(message)).toBe(field('message'))
    expect(checkpointId(checkpoint)).toBe(field('checkpoint id'))

    const signatures = new Map([0, 2].map((i) => [i, blsSign(blsSecretKey(i), message)]))
    for (const [i, signature] of signatures) expect(toHex(signature)).toBe(field(`signature ${i}`))
    const cosigned = aggregateCosignatures(checkpoint, signatures, 3)
    expect(toHex(cosigned.signers)).toBe(field('signers'))
    expect(toHex(cosigned.signature)).toBe(field('aggregate'))
    expect(JSON.stringify(cosignedToJson(cosigned))).toBe(json)

    const keys = [0, 1, 2].map((i) => bytes(fieldsOf('bls-keys')(`public key ${i}`)))
    expect(defaultQuorum(3)).toBe(2)
    expect(
      verifyCosignedCheckpoint(cosignedInDoc, {
        networkId: checkpoint.networkId,
        membership: { version: 0, hash: checkpoint.networkId },
        blsKeys: keys,
      }),
    ).toEqual([0, 2])
    // The three variants the document says are refused.
    const refused = { '0500': 'INVALID_PROOF', '0d': 'INVALID_PROOF', '01': 'INVALID_SIGNATURE' }
    for (const [signers, code] of Object.entries(refused)) {
      const variant = cosignedFromJson(
        JSON.parse(json.replace('"signers":"05"', `"signers":"${signers}"`)),
      )
      expect(toHex(variant.signers)).toBe(signers)
      expect(
        codeOf(() =>
          verifyCosignedCheckpoint(variant, {
            networkId: checkpoint.networkId,
            membership: { version: 0, hash: checkpoint.networkId },
            blsKeys: keys,
          }),
        ),
      ).toBe(code)
    }
  })

  it('login and session messages', () => {
    const field = fieldsOf('login-session')
    const nonce = new Uint8Array(32).fill(0x11)
    const login = loginMessage('hospital-a', 'alice@hospital-b', nonce, Date.UTC(2026, 0, 1, 0, 5))
    expect(toHex(login)).toBe(field('login message'))
    expect(toHex(sessionMessage(utf8.encode('{"sid":"x"}')))).toBe(field('session message'))
  })

  it('login key: scrypt over the tag, username and password, then Ed25519', () => {
    const field = fieldsOf('login-key')
    const username = 'alice@hospital-b'
    const password = 'correct horse battery staple'
    expect(field('scrypt input')).toBe(
      toHex(utf8.encode(`${TAGS.passwordKey}\0${username}\0${password}`)),
    )
    const kdf = {
      name: 'scrypt',
      salt: '00112233445566778899aabbccddeeff',
      N: 1024,
      r: 8,
      p: 1,
    } as const
    const key = deriveLoginKey(username, password, kdf)
    expect(toHex(key.seed)).toBe(field('seed'))
    expect(toHex(key.publicKey)).toBe(field('public key'))
  })

  it('bundle signature: the tag, 0x00 and the manifest, signed with the login key', () => {
    const json = jsonOf('bundle-manifest')
    const manifest = JSON.parse(json) as BundleManifest
    expect(canonicalJson(manifest)).toBe(json)
    expect(manifest.answersHash).toBe(answersHashOf([]))
    expect(manifest.networkId).toBe(fieldsOf('network-id')('network id'))
    const field = fieldsOf('bundle-signature')
    expect(field('tag')).toBe(toHex(utf8.encode(TAGS.bundle)))
    expect(toHex(bundleManifestMessage(manifest))).toBe(
      field('tag') + field('separator') + toHex(utf8.encode(json)),
    )
    // The key of the login-key example: the bundle is signed by that account.
    const loginKey = fieldsOf('login-key')
    expect(field('public key')).toBe(loginKey('public key'))
    expect(signBundleManifest(manifest, bytes(loginKey('seed')))).toBe(field('signature'))
    const signedBy = {
      username: manifest.createdBy,
      publicKey: field('public key'),
      signature: field('signature'),
    }
    expect(isBundleSignatureValid(manifest, signedBy)).toBe(true)
    expect(isBundleSignatureValid({ ...manifest, pages: 2 }, signedBy)).toBe(false)
  })

  it('HKDF keys: one per tag from the master secret', () => {
    const field = fieldsOf('hkdf-keys')
    const master = bytes(field('master secret'))
    expect(master).toEqual(Uint8Array.from({ length: 32 }, (_, i) => i))
    expect(toHex(deriveKey(master, TAGS.hkdfValueEncryption))).toBe(field('value key'))
    expect(toHex(deriveKey(master, TAGS.hkdfBlindIndex))).toBe(field('index key'))
    expect(toHex(deriveKey(master, TAGS.hkdfKeysFile))).toBe(field('keys-file key'))
    expect(toHex(deriveKey(master, TAGS.hkdfProvenKeys))).toBe(field('proven-keys MAC key'))
  })

  it('the tags table lists every tag of the code, each with its UTF-8 bytes in hex', () => {
    const rows = tableRows(example('tags'))
    const inDoc = new Map(rows.map(([tag, hex]) => [tag!, hex!]))
    const inCode = [...Object.values(TAGS), INCIDENT_ID_TAG]
    expect([...inDoc.keys()].sort()).toEqual([...inCode].sort())
    for (const tag of inCode) {
      expect(inDoc.get(tag)).toBe(toHex(utf8.encode(tag)))
      expect(tag).not.toContain('\0')
    }
  })
})
