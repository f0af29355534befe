import { type Command, Option } from 'commander'

/**
 * Some commands print JSON with `--json`, others with `--format json`; every command takes
 * both. A command with only `--json` gains `--format text|json`, one with only `--format`
 * gains `--json`, and before the action runs each sets the other: the actions read the flag
 * they always read.
 */
export function acceptJsonBothWays(program: Command): void {
  for (const command of allCommands(program)) {
    const has = (flag: string) => command.options.some((o) => o.long === flag)
    const json = has('--json')
    const format = has('--format')
    if (!json && !format) continue
    if (!format)
      command.addOption(
        new Option('--format <format>', 'text, or json (the same as --json)').choices([
          'text',
          'json',
        ]),
      )
    if (!json) command.option('--json', 'the same as --format json')
    command.hook('preAction', (_program, action) => {
      const opts = action.opts<{ json?: boolean; format?: string }>()
      if (opts.format === 'json') action.setOptionValue('json', true)
      else if (opts.json && format) action.setOptionValue('format', 'json')
    })
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)])
}
