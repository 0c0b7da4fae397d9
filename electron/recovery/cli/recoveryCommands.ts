/** `fieldkit restore DEVICE [--list] [--snapshot ID] [--class C…]` and `fieldkit drill DEVICE [--onto SPARE]` (being written). */
import type { Command } from 'commander';
import type { CliContext } from '../../kernel/cli/cliContext.ts';

export function addRecoveryCommands(_program: Command, _ctx: CliContext): void {
}
