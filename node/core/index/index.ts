export {
  type AnsweredEntry,
  type CompletenessFailure,
  type CompletenessProof,
  type CompletenessResult,
  chainOfSeqs,
  type IndexCut,
  type LeafOpening,
  type OriginIndexProof,
  verifyCompleteness,
} from './completeness.ts'
export { decodeCompletenessProof, encodeCompletenessProof } from './completeness-bytes.ts'
export {
  chainNext,
  EMPTY_HASH,
  INDEX_HASH_SIZE,
  indexKey,
  indexSalt,
  indexValueHash,
  smtLeafHash,
  smtNodeHash,
  vrfInput,
} from './layout.ts'
export { PatientIndex } from './patient-index.ts'
export { SparseMerkleTree } from './smt.ts'
export {
  rootFromSmtProof,
  SMT_KEY_SIZE,
  type SmtProof,
  type SmtTerminal,
  verifySmtAbsence,
  verifySmtMembership,
} from './smt-proof.ts'
export { decodeSmtProof, encodeSmtProof } from './smt-proof-bytes.ts'
export {
  encodeToCurve,
  VRF_OUTPUT_SIZE,
  VRF_PROOF_SIZE,
  VRF_PUBLIC_KEY_SIZE,
  type VrfKeyPair,
  vrfKeyPair,
  vrfOutput,
  vrfProofToHash,
  vrfProve,
  vrfVerify,
} from './vrf.ts'
