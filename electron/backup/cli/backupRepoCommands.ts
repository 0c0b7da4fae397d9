/** `fieldkit backup verify|copy|forget|history|repo` (being written). */
import type { Command } from 'commander';
import type { CliContext } from '../../kernel/cli/cliContext.ts';

/** The one `backup` command, made by whichever of the domain's command groups comes first. */
export function backupCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'backup') ?? program.command('backup').description('back up devices into restic repositories, verify, copy and prune them');
}

export function addBackupRepoCommands(program: Command, _ctx: CliContext): void {
  backupCommand(program);
}
