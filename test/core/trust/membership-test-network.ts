import { isEhrlogError } from '../../../node/core/errors.ts'
import {
  genesisVersion,
  type MembershipVersion,
  type SignedProposal,
} from '../../../node/core/trust/index.ts'
import {
  makeMember,
  signedChange,
  TEST_VRF_PUBLIC_KEY_HEX,
  type TestMember,
} from './membership-chain-fixtures.ts'

/** hospital-a, -b and -c in the genesis; hospital-d made but not a member. */
export interface TestNetwork {
  members: TestMember[]
  keys: Map<string, TestMember>
  network: { members: unknown[]; vrfPublicKey: string }
  v0: MembershipVersion
  /** hospital-d added on version 0, signed by hospital-a and hospital-b. */
  addFourth: () => Promise<SignedProposal>
}

export async function makeTestNetwork(): Promise<TestNetwork> {
  const members = await Promise.all(
    ['hospital-a', 'hospital-b', 'hospital-c', 'hospital-d'].map((n, i) =>
      makeMember(n, `/ip4/10.0.0.${i + 1}/tcp/7400`),
    ),
  )
  const keys = new Map(members.map((m) => [m.identity.name, m]))
  const network = {
    members: members.slice(0, 3).map((m) => m.identity),
    vrfPublicKey: TEST_VRF_PUBLIC_KEY_HEX,
  }
  const v0 = genesisVersion(network).version
  const addFourth = () =>
    signedChange(
      v0,
      { type: 'add', member: members[3]!.identity },
      ['hospital-a', 'hospital-b'],
      keys,
    )
  return { members, keys, network, v0, addFourth }
}

/** The EhrlogError code `fn` throws, undefined when it does not. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}

/** The EhrlogError code `fn` throws (or rejects with), undefined when it does not. */
export async function codeOfAsync(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (err) {
    return isEhrlogError(err) ? err.code : `not-ehrlog: ${String(err)}`
  }
}
