import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * `ehrlog network propose | sign | show` on real node folders (ehrlog network init and
 * ehrlog init, real keys.enc): proposals go from folder to folder as files.
 */

const tempDir = useTempDirs()

async function ok(args: string[]): Promise<string> {
  const result = await runCli(args)
  expect(result.err, args.join(' ')).toBe('')
  expect(result.code, args.join(' ')).toBe(0)
  return result.out
}

async function showJson(root: string, changes: string[]) {
  const args = ['network', 'show', '--network', join(root, 'network.json'), '--json']
  const result = await runCli(changes.length ? [...args, '--changes', ...changes] : args)
  return { ...result, report: JSON.parse(result.out) }
}

/** A 3-node network (hospital-a..c) and a fourth node folder, hospital-d, not yet a member. */
async function network(): Promise<string> {
  const root = await tempDir()
  await ok(['network', 'init', '--dir', root, '--nodes', '3', '--base-port', '17400'])
  await ok([
    'init',
    '--dir',
    join(root, 'hospital-d'),
    '--name',
    'hospital-d',
    '--listen',
    '/ip4/127.0.0.1/tcp/17406',
  ])
  return root
}

describe('ehrlog network propose, sign and show', () => {
  it('adds a member: proposed by one, signed by another, shown as version 1', async () => {
    const root = await network()
    const p1 = join(root, 'add-d.json')
    const dirA = join(root, 'hospital-a')
    const proposed = await ok([
      'network',
      'propose',
      'add',
      join(root, 'hospital-d'),
      '--dir',
      dirA,
      '--out',
      p1,
    ])
    expect(proposed).toContain('add hospital-d on version 0')
    expect(proposed).toContain('1 of the 2 signatures')

    let shown = await showJson(root, [p1])
    expect(shown.code).toBe(0)
    expect(shown.report.current.number).toBe(0)
    expect(shown.report.pending).toHaveLength(1)
    expect(shown.report.pending[0].signers).toEqual(['hospital-a'])

    const signedOut = await ok(['network', 'sign', p1, '--dir', join(root, 'hospital-b')])
    expect(signedOut).toContain('enough to apply')
    shown = await showJson(root, [p1])
    expect(shown.report.current.number).toBe(1)
    expect(shown.report.versions[1].signers).toEqual(['hospital-a', 'hospital-b'])
    expect(shown.report.current.members.map((m: { name: string }) => m.name)).toEqual([
      'hospital-a',
      'hospital-b',
      'hospital-c',
      'hospital-d',
    ])
    const identityD = JSON.parse(await readFile(join(root, 'hospital-d', 'identity.json'), 'utf8'))
    expect(shown.report.current.members[3].ed25519PublicKey).toBe(identityD.ed25519PublicKey)
    // The network id stays the genesis id.
    expect(shown.report.networkId).toBe(shown.report.versions[0].hash)

    const text = await runCli([
      'network',
      'show',
      '--network',
      join(root, 'network.json'),
      '--changes',
      p1,
    ])
    expect(text.out).toMatch(
      /^version 1 {2}[0-9a-f]{64} {2}add hospital-d; signed by hospital-a, hospital-b$/m,
    )
    expect(text.out).toContain('quorum 3')

    // Signing again changes nothing.
    const before = await readFile(p1, 'utf8')
    expect(await ok(['network', 'sign', p1, '--dir', join(root, 'hospital-b')])).toContain(
      'already signed',
    )
    expect(await readFile(p1, 'utf8')).toBe(before)
  })

  it('refuses a non-member signer, an existing --out, a key already a member, and a second vote on one version', async () => {
    const root = await network()
    const p1 = join(root, 'add-d.json')
    const dirA = join(root, 'hospital-a')
    await ok(['network', 'propose', 'add', join(root, 'hospital-d'), '--dir', dirA, '--out', p1])
    const before = await readFile(p1, 'utf8')

    // hospital-d is no member of version 0 (and has no network.json: pass the pinned one).
    const outsider = await runCli([
      'network',
      'sign',
      p1,
      '--dir',
      join(root, 'hospital-d'),
      '--network',
      join(root, 'network.json'),
    ])
    expect(outsider.code).toBe(3)
    expect(outsider.err).toMatch(/^SIGNER_UNKNOWN: hospital-d .* is not a member of version 0/)
    expect(await readFile(p1, 'utf8')).toBe(before)

    const again = await runCli([
      'network',
      'propose',
      'remove',
      'hospital-c',
      '--dir',
      dirA,
      '--out',
      p1,
    ])
    expect(again.code).toBe(2)
    expect(again.err).toMatch(/^ARGUMENT_INVALID: --out .* exists/)

    // Adding hospital-b's identity again: its name, keys and PeerId are taken.
    const dup = await runCli([
      'network',
      'propose',
      'add',
      join(root, 'hospital-b', 'identity.json'),
      '--dir',
      dirA,
      '--out',
      join(root, 'dup.json'),
    ])
    expect(dup.code).toBe(3)
    expect(dup.err).toMatch(/^MEMBER_CONFLICT: .*already member hospital-b's/)
    await expect(stat(join(root, 'dup.json'))).rejects.toThrow()

    // hospital-a proposed the add on version 0: it signs no other change there.
    const p2 = join(root, 'remove-c.json')
    await ok([
      'network',
      'propose',
      'remove',
      'hospital-c',
      '--dir',
      join(root, 'hospital-c'),
      '--out',
      p2,
    ])
    const second = await runCli(['network', 'sign', p2, '--dir', dirA])
    expect(second.code).toBe(3)
    expect(second.err).toMatch(
      /^EQUIVOCATION: hospital-a already signed another change on version 0/,
    )
  })

  it('shows an equivocation when a member signed two changes on one version (exit 3, both named)', async () => {
    const root = await network()
    const p1 = join(root, 'add-d.json')
    const p2 = join(root, 'remove-c.json')
    await ok([
      'network',
      'propose',
      'add',
      join(root, 'hospital-d'),
      '--dir',
      join(root, 'hospital-a'),
      '--out',
      p1,
    ])
    await ok(['network', 'sign', p1, '--dir', join(root, 'hospital-b')])
    await ok([
      'network',
      'propose',
      'remove',
      'hospital-c',
      '--dir',
      join(root, 'hospital-c'),
      '--out',
      p2,
    ])
    // hospital-b's admin removes its record of votes, and signs a second change.
    await rm(join(root, 'hospital-b', 'membership-votes.json'))
    await ok(['network', 'sign', p2, '--dir', join(root, 'hospital-b')])
    const shown = await showJson(root, [p1, p2])
    expect(shown.code).toBe(3)
    expect(shown.err).toMatch(
      /^EQUIVOCATION: two different changes .* version 0; hospital-b signed both/,
    )
    expect(shown.report.equivocation.signedBoth).toEqual(['hospital-b'])
    expect(shown.report.current.number).toBe(0)
  })

  it('rotates a BLS key: the member proposes with its old key signing too; stale proposals are refused', async () => {
    const root = await network()
    const p1 = join(root, 'add-d.json')
    await ok([
      'network',
      'propose',
      'add',
      join(root, 'hospital-d'),
      '--dir',
      join(root, 'hospital-a'),
      '--out',
      p1,
    ])
    await ok(['network', 'sign', p1, '--dir', join(root, 'hospital-c')])
    // hospital-b's new keys: a fresh folder with the same name.
    await ok([
      'init',
      '--dir',
      join(root, 'b2'),
      '--name',
      'hospital-b',
      '--listen',
      '/ip4/127.0.0.1/tcp/17408',
    ])
    const newIdentity = JSON.parse(await readFile(join(root, 'b2', 'identity.json'), 'utf8'))
    const p3 = join(root, 'rotate-b.json')
    await ok([
      'network',
      'propose',
      'rotate',
      'hospital-b',
      '--key',
      'bls',
      '--identity',
      join(root, 'b2', 'identity.json'),
      '--dir',
      join(root, 'hospital-b'),
      '--changes',
      p1,
      '--out',
      p3,
    ])
    const proposal = JSON.parse(await readFile(p3, 'utf8'))
    expect(proposal.proposal.baseVersion).toBe(1)
    expect(proposal.oldKeySignature).toMatch(/^[0-9a-f]{192}$/)
    // Version 1 has 4 members: the quorum is 3.
    await ok(['network', 'sign', p3, '--dir', join(root, 'hospital-a'), '--changes', p1])
    let shown = await showJson(root, [p1, p3])
    expect(shown.report.current.number).toBe(1)
    expect(shown.report.pending[0].signers).toEqual(['hospital-a', 'hospital-b'])
    await ok([
      'network',
      'sign',
      p3,
      '--dir',
      join(root, 'hospital-d'),
      '--network',
      join(root, 'network.json'),
      '--changes',
      p1,
    ])
    shown = await showJson(root, [p3, p1]) // any order
    expect(shown.report.current.number).toBe(2)
    const b = shown.report.current.members.find((m: { name: string }) => m.name === 'hospital-b')
    expect(b.blsPublicKey).toBe(newIdentity.blsPublicKey)

    // A proposal on version 0, signed now, is replayed: refused, the file unchanged.
    const stale = join(root, 'stale.json')
    await ok([
      'network',
      'propose',
      'quorum',
      '3',
      '--dir',
      join(root, 'hospital-b'),
      '--out',
      stale,
    ])
    const before = await readFile(stale, 'utf8')
    const refused = await runCli([
      'network',
      'sign',
      stale,
      '--dir',
      join(root, 'hospital-d'),
      '--network',
      join(root, 'network.json'),
      '--changes',
      p1,
      p3,
    ])
    expect(refused.code).toBe(3)
    expect(refused.err).toMatch(
      /^CHANGE_REPLAYED: the proposal applies to version 0, but this chain is at version 2/,
    )
    expect(refused.err).toContain('propose the change again on the current version') // the hint
    expect(await readFile(stale, 'utf8')).toBe(before)
    shown = await showJson(root, [p1, p3, stale])
    expect(shown.report.refused.map((r: { error: { code: string } }) => r.error.code)).toEqual([
      'CHANGE_REPLAYED',
    ])
  })

  it('addresses: an undialable one is refused; a rotation proposed by another waits for the old key', async () => {
    const root = await network()
    const dirA = join(root, 'hospital-a')
    const refused = await runCli([
      'network',
      'propose',
      'addresses',
      'hospital-b',
      '/ip4/0.0.0.0/tcp/7400',
      '--dir',
      dirA,
      '--out',
      join(root, 'x.json'),
    ])
    expect(refused.code).toBe(2)
    expect(refused.err).toMatch(
      /^CONFIG_INVALID: member hospital-b \(the new addresses\): address \/ip4\/0.0.0.0\/tcp\/7400 cannot be dialed/,
    )
    await expect(stat(join(root, 'x.json'))).rejects.toThrow()

    const p1 = join(root, 'addr-b.json')
    await ok([
      'network',
      'propose',
      'addresses',
      'hospital-b',
      '/dns4/b.example/tcp/7400',
      '--dir',
      dirA,
      '--out',
      p1,
    ])
    expect(await ok(['network', 'sign', p1, '--dir', join(root, 'hospital-c')])).toContain(
      'enough to apply: it makes version 1',
    )

    // hospital-a proposes hospital-c's new Ed25519 key; c still holds the old one.
    await ok([
      'init',
      '--dir',
      join(root, 'c2'),
      '--name',
      'hospital-c',
      '--listen',
      '/ip4/127.0.0.1/tcp/17410',
    ])
    const p2 = join(root, 'rotate-c.json')
    const proposed = await ok([
      'network',
      'propose',
      'rotate',
      'hospital-c',
      '--key',
      'ed25519',
      '--identity',
      join(root, 'c2', 'identity.json'),
      '--dir',
      dirA,
      '--changes',
      p1,
      '--out',
      p2,
    ])
    expect(proposed).toContain('hospital-c must sign it too')
    expect(
      await ok(['network', 'sign', p2, '--dir', join(root, 'hospital-b'), '--changes', p1]),
    ).toMatch(/not yet applicable: oldKeySignature: missing/)
    let shown = await showJson(root, [p1, p2])
    expect(shown.report.current.number).toBe(1)
    expect(shown.report.current.members[1].addresses).toEqual(['/dns4/b.example/tcp/7400'])
    expect(shown.report.pending[0].waitingFor).toBe("hospital-c's old ed25519 key")
    await ok(['network', 'sign', p2, '--dir', join(root, 'hospital-c'), '--changes', p1])
    shown = await showJson(root, [p1, p2])
    expect(shown.report.current.number).toBe(2)
    const c2 = JSON.parse(await readFile(join(root, 'c2', 'identity.json'), 'utf8'))
    expect(shown.report.current.members[2].ed25519PublicKey).toBe(c2.ed25519PublicKey)
  })

  it('bad arguments are ARGUMENT_INVALID (exit 2) before any folder is opened', async () => {
    for (const args of [
      ['network', 'propose', 'quorum', 'many', '--dir', 'nowhere', '--out', 'x.json'],
      [
        'network',
        'propose',
        'rotate',
        'hospital-a',
        '--key',
        'rsa',
        '--identity',
        'i.json',
        '--dir',
        'nowhere',
        '--out',
        'x.json',
      ],
      ['network', 'sign', '--dir', 'nowhere'],
    ]) {
      const { code, err } = await runCli(args)
      expect(code, args.join(' ')).toBe(2)
      expect(err, args.join(' ')).toMatch(/^ARGUMENT_INVALID: /)
    }
  })
})
