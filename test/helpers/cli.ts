import { main } from '../../client/main.ts'

export interface CliResult {
  code: number
  out: string
  err: string
}

/** Runs the ehrlog CLI in this process with captured output (the real code path, no spawn). */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  let out = ''
  let err = ''
  const code = await main(args, {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    env,
  })
  return { code, out, err }
}
