import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  blsProofOfPossession,
  blsPublicKey,
  blsSign,
  generateBlsSecretKey,
} from '../../../node/core/bls.ts'
import { toHex } from '../../../node/core/hex.ts'
import { ed25519RawPublicKey, signEd25519 } from '../../../node/core/tree-head.ts'
import {
  addSignature,
  type MembershipChange,
  type MembershipVersion,
  type PublicIdentity,
  proposalMessage,
  proposeChange,
  type SignedProposal,
} from '../../../node/core/trust/index.ts'

export { TEST_VRF_PUBLIC_KEY_HEX } from '../../helpers/fixtures.ts'

/** A member's public identity and the private keys behind it. */
export interface TestMember {
  identity: PublicIdentity
  feedKey: KeyObject
  bls: Uint8Array
  libp2p: PrivateKey
}

export async function makeMember(
  name: string,
  address = '/ip4/10.0.0.1/tcp/7400',
): Promise<TestMember> {
  const libp2p = await generateKeyPair('Ed25519')
  const feedKey = generateKeyPairSync('ed25519').privateKey
  const bls = generateBlsSecretKey()
  return {
    identity: {
      name,
      ed25519PublicKey: toHex(ed25519RawPublicKey(feedKey)),
      peerId: peerIdFromPrivateKey(libp2p).toString(),
      blsPublicKey: toHex(blsPublicKey(bls)),
      blsProofOfPossession: toHex(blsProofOfPossession(bls)),
      addresses: [address],
    },
    feedKey,
    bls,
    libp2p,
  }
}

/** Fresh keys of each kind, for rotations. */
export async function freshKeys(): Promise<{
  feedKey: KeyObject
  bls: Uint8Array
  libp2p: PrivateKey
}> {
  return {
    feedKey: generateKeyPairSync('ed25519').privateKey,
    bls: generateBlsSecretKey(),
    libp2p: await generateKeyPair('Ed25519'),
  }
}

/**
 * `change` proposed by `signers[0]` on `version`, signed by every one of `signers` (their
 * current keys from `keys`), with the old key's signature when a rotation says it is held.
 */
export async function signedChange(
  version: MembershipVersion,
  change: MembershipChange,
  signers: readonly string[],
  keys: ReadonlyMap<string, TestMember>,
): Promise<SignedProposal> {
  let signed: SignedProposal = {
    proposal: proposeChange(version, signers[0]!, change),
    signatures: [],
  }
  for (const name of signers) signed = addSignature(signed, name, keys.get(name)!.feedKey)
  if ('oldKey' in change && change.oldKey === 'held') {
    const old = keys.get(change.name)!
    const message = proposalMessage(signed.proposal)
    const signature =
      change.type === 'rotate-ed25519'
        ? signEd25519(old.feedKey, message)
        : change.type === 'rotate-bls'
          ? blsSign(old.bls, message)
          : await old.libp2p.sign(message)
    signed = { ...signed, oldKeySignature: toHex(signature) }
  }
  return signed
}
