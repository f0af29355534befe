import type { Command } from 'commander'
import { cosignedFromJson, feedCutOf } from '../../node/core/checkpoint.ts'
import { decodeEntry, parseEntryId } from '../../node/core/entry.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import { fromHex, toHex } from '../../node/core/hex.ts'
import { verifyInclusion } from '../../node/core/merkle/index.ts'
import {
  type CheckpointVerdict,
  describeVerdict,
  verifyCheckpoint,
} from '../../node/core/trust/index.ts'
import { entryProofAt, type ProofAnswerJson } from '../../node/query/index.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import type { CliContext } from '../context.ts'
import { withLocalNode } from '../local-node.ts'
import { callNode, findEndpoint } from '../node-client.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'
import { explainUnknown, followedTrust } from '../verify/index.ts'

export function registerProof(program: Command, ctx: CliContext): void {
  program
    .command('proof')
    .description(
      "print an entry's inclusion proof against the latest cosigned checkpoint, and verify it",
    )
    .argument('<entry-id>', 'origin:seq, e.g. hospital-a:42')
    .option('--node <url>', 'ask a running node (with your session from `ehrlog login`)')
    .option('--dir <dir>', 'a node folder: its running node (with your session), or offline')
    .option('--network <file>', 'your copy of network.json (default: the --dir one)')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        opts: { node?: string; dir?: string; network?: string; json?: boolean },
      ) => {
        const ref = parseEntryId(id)
        if (!ref)
          throw new EhrlogError(
            'ARGUMENT_INVALID',
            `${JSON.stringify(id)} is not an entry id: want origin:seq, e.g. hospital-a:42`,
          )
        // A running node answers an auditor's or admin's session (the read is recorded there);
        // the EHR's API token may only append, so it is never sent here.
        const endpoint = await findEndpoint({ ...opts, token: '' }, {})
        const answer = endpoint
          ? await callNode<ProofAnswerJson>(
              { url: endpoint.url, token: undefined },
              'GET',
              `/api/v1/proof/${encodeURIComponent(id)}`,
              undefined,
              sessionHeaders(await loadSession(ctx)),
            )
          : await withLocalNode(ctx, opts.dir!, async ({ store }) => {
              const entry = await store.getEntry(ref.origin, ref.seq)
              if (!entry)
                throw new EhrlogError(
                  'NOT_FOUND',
                  `no such entry ${id}: this folder holds none there`,
                )
              return entryProofAt(store, await new CheckpointLog(store).latest(), entry)
            })
        // Verified here, whatever the node says: the membership changes from your genesis to
        // the version the checkpoint names, its signature, the entry bytes, the proof.
        const history = await followedTrust(ctx, opts, endpoint ? { endpoint } : { dir: opts.dir! })
        const cosigned = cosignedFromJson(answer.cosigned)
        const where = endpoint?.url ?? opts.dir!
        let verdict: CheckpointVerdict
        try {
          verdict = verifyCheckpoint(history, cosigned)
        } catch (err) {
          throw explainUnknown(err, cosigned.checkpoint.membership, where)
        }
        const entry = decodeEntry(new Uint8Array(Buffer.from(answer.bytes, 'base64')))
        if (entry.entry.origin !== ref.origin || entry.entry.seq !== ref.seq) {
          throw new EhrlogError(
            'INVALID_PROOF',
            `the node answered with entry ${entry.entry.origin}:${entry.entry.seq} for ${id}`,
          )
        }
        const cut = feedCutOf(cosigned.checkpoint, ref.origin)
        if (!cut || cut.treeSize !== answer.treeSize)
          throw new EhrlogError(
            'INVALID_PROOF',
            `the proof's tree size ${answer.treeSize} is not the checkpoint's for ${ref.origin}`,
          )
        const proof = answer.inclusionProof.map((h) => {
          const bytes = fromHex(h, 32)
          if (!bytes) throw new EhrlogError('INVALID_PROOF', 'a proof hash is not 32 bytes of hex')
          return bytes
        })
        verifyInclusion(entry.hash, ref.seq - 1, cut.treeSize, proof, cut.root)
        if (opts.json) {
          ctx.out(
            `${JSON.stringify({ verified: true, ...verdict, ...answer, entry: entry.entry }, null, 2)}\n`,
          )
          return
        }
        ctx.out(`entry ${id}  hash ${toHex(entry.hash)}\n`)
        ctx.out(
          `included in ${ref.origin}'s feed at tree size ${cut.treeSize}, root ${toHex(cut.root)}\n`,
        )
        ctx.out(
          `inclusion proof (${proof.length} hashes, RFC 9162):\n${answer.inclusionProof.map((h) => `  ${h}`).join('\n')}\n`,
        )
        ctx.out(`${describeVerdict(verdict)}\n`)
      },
    )
}
