import { EhrlogError } from '../node/core/errors.ts'
import type { CliContext, PasswordInput } from './context.ts'

/** Longest password read (bytes from stdin, characters at the prompt). */
const MAX_PASSWORD_LENGTH = 1024
/** Shortest new password (NIST SP 800-63B 5.1.1.2: at least 8 characters). */
export const MIN_NEW_PASSWORD_LENGTH = 8

/**
 * Reads a password: from stdin with --password-stdin, else from the terminal without echo.
 * Never from argv or the environment, which other local users and crash reports can see.
 * With `confirm`, a new password is asked twice at a terminal.
 */
export async function readPassword(
  ctx: CliContext,
  opts: { prompt: string; fromStdin: boolean; confirm?: boolean },
): Promise<string> {
  const input = ctx.passwordInput ?? processPasswordInput
  const source = opts.fromStdin ? 'stdin' : 'tty'
  const password = await input(opts.prompt, source)
  if (password.length === 0)
    throw new EhrlogError('ARGUMENT_INVALID', 'the password is empty', {
      details: { field: 'password' },
    })
  if (opts.confirm && source === 'tty') {
    const again = await input('repeat the password: ', 'tty')
    if (again !== password)
      throw new EhrlogError('ARGUMENT_INVALID', 'the two passwords differ: nothing was sent', {
        details: { field: 'password' },
      })
  }
  return password
}

/** A new account's password: long enough to be worth the scrypt work. */
export function assertNewPassword(password: string): void {
  const length = [...password.normalize('NFC')].length
  if (length < MIN_NEW_PASSWORD_LENGTH)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `the password has ${length} characters: want at least ${MIN_NEW_PASSWORD_LENGTH} (a passphrase of a few words is best)`,
      { details: { field: 'password' } },
    )
}

/** The real terminal and stdin. */
const processPasswordInput: PasswordInput = (prompt, source) => {
  if (source === 'stdin') {
    if (process.stdin.isTTY)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        '--password-stdin reads a pipe, but stdin is a terminal: leave it out to be asked without echo',
        { details: { field: 'password-stdin' } },
      )
    return readStdinPassword(process.stdin)
  }
  if (!process.stdin.isTTY)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'no terminal to ask for the password on: pipe it in with --password-stdin',
      { details: { field: 'password' } },
    )
  return promptHidden(prompt, process.stdin, process.stderr)
}

/** All of `stream` (a pipe), less one trailing newline, as `docker login --password-stdin` does. */
export async function readStdinPassword(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += bytes.byteLength
    if (size > MAX_PASSWORD_LENGTH)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `stdin holds more than ${MAX_PASSWORD_LENGTH} bytes: want just the password`,
        { details: { field: 'password' } },
      )
    chunks.push(bytes)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new EhrlogError('ARGUMENT_INVALID', 'the password on stdin is not UTF-8', {
      details: { field: 'password' },
    })
  }
  return text.replace(/\r?\n$/, '')
}

/** Asks on `output` and reads a line from the terminal `input` in raw mode, echoing nothing. */
function promptHidden(
  prompt: string,
  input: NodeJS.ReadStream,
  output: NodeJS.WriteStream,
): Promise<string> {
  output.write(prompt)
  return new Promise((resolve, reject) => {
    let password = ''
    const done = (err?: EhrlogError) => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      if (err) reject(err)
      else resolve(password)
    }
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u0003')
          return done(new EhrlogError('ARGUMENT_INVALID', 'cancelled: nothing was sent'))
        if (ch === '\u007f' || ch === '\b') password = [...password].slice(0, -1).join('')
        else if (ch >= ' ' && password.length < MAX_PASSWORD_LENGTH) password += ch
      }
    }
    input.setEncoding('utf8')
    input.setRawMode(true)
    input.resume()
    input.on('data', onData)
  })
}
