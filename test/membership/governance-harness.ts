import { generateKeyPairSync } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blsProofOfPossession, blsPublicKey, generateBlsSecretKey } from '../../node/core/bls.ts'
import { toHex } from '../../node/core/hex.ts'
import type { MembershipRecord } from '../../node/core/trust/membership-record.ts'
import { MEMBERSHIP_TOPIC } from '../../node/membership/governance-messages.ts'
import type { EhrlogNode } from '../../node/node.ts'
import { initNetwork, startNodes, waitFor } from '../../scripts/in-process-network.ts'
import { login, register } from '../query/sessions.ts'

/*
 * Membership governance on real nodes: in-process nodes (libp2p on 127.0.0.1, LevelDB, HTTP)
 * whose alerts go to a real SMTP server (smtp-server) on 127.0.0.1.
 */

export const NAMES = ['hospital-a', 'hospital-b', 'hospital-c']

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field below
export type Json = Record<string, any>

/** The gossipsub subscribers of a node's topic (the NetService keeps its host private). */
function subscribers(node: EhrlogNode, topic: string): number {
  const parts = (
    node.net as unknown as {
      parts: { host: { services: { pubsub: { getSubscribers(t: string): unknown[] } } } }
    }
  ).parts
  return parts.host.services.pubsub.getSubscribers(topic).length
}

export async function call(
  node: EhrlogNode,
  token: string | undefined,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${node.httpUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Session ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, json: (await res.json()) as Json }
}

export async function membershipRecords(
  node: EhrlogNode,
  origin: string,
): Promise<MembershipRecord[]> {
  const out: MembershipRecord[] = []
  for (let seq = 1; seq <= node.store.size(origin); seq++) {
    const e = await node.store.getEntry(origin, seq)
    if (e?.entry.kind === 'membership') out.push(e.entry.body as MembershipRecord)
  }
  return out
}

/** A fresh member's public identity: new keys, its proof of possession (or another key's). */
export async function freshIdentity(name: string, badProof = false) {
  const bls = generateBlsSecretKey()
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' })
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return {
    name,
    ed25519PublicKey: toHex(ed.subarray(ed.length - 32)),
    peerId: peerId.toString(),
    blsPublicKey: toHex(blsPublicKey(bls)),
    blsProofOfPossession: toHex(blsProofOfPossession(badProof ? generateBlsSecretKey() : bls)),
    addresses: [`/ip4/127.0.0.1/tcp/19999`],
  }
}

/** A 3-node network whose admins' email goes to `smtpPort`; an admin session per node. */
export async function governedNetwork(
  root: string,
  smtpPort: number,
): Promise<{ dirs: string[]; nodes: EhrlogNode[]; tokens: string[] }> {
  const { dirs } = await initNetwork(root, 3)
  for (const [i, dir] of dirs.entries()) {
    const path = join(dir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.alerts = {
      ...config.alerts,
      admins: [`admins@${NAMES[i]}.example`],
      smtp: {
        host: '127.0.0.1',
        port: smtpPort,
        secure: false,
        requireTLS: false,
        from: `ehrlog@${NAMES[i]}.example`,
      },
    }
    await writeFile(path, JSON.stringify(config, null, 2))
  }
  const nodes = await startNodes(dirs)
  const tokens: string[] = []
  for (const [i, node] of nodes.entries()) {
    await register(node.auth, `admin@${NAMES[i]}`, 'admin')
    tokens.push(login(node.auth, `admin@${NAMES[i]}`).token)
  }
  await waitFor('a full mesh', () => nodes.every((n) => n.net.peers().length >= 2), 20_000)
  await waitFor(
    'every node subscribed to the membership topic',
    () =>
      nodes.every(
        (n) => subscribers(n, `/ehrlog/1/${n.governance.live.networkId}/${MEMBERSHIP_TOPIC}`) >= 2,
      ),
    20_000,
  )
  return { dirs, nodes, tokens }
}
