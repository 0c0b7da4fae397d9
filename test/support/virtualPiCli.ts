/**
 * The `fieldkit` CLI for tests whose Pis are virtual A/B Pis: the same program, with the
 * virtual Pi's firmware files given to the deploy domain as the app's slot platform (a real
 * Pi's are under /proc). Run as `node test/support/virtualPiCli.ts PLATFORM_JSON ARGS…`.
 */
import { SlotPlatformSchema } from '../../electron/deploy/index.ts';
import { runCli } from '../../electron/cli/program.ts';
import { processIo } from '../../electron/kernel/cli/cliIo.ts';

export const virtualPiCliEntry = 'test/support/virtualPiCli.ts';

if (import.meta.main) {
  const [platformJson = '', ...args] = process.argv.slice(2);
  const slotPlatform = SlotPlatformSchema.parse(JSON.parse(platformJson));
  process.exitCode = await runCli(args, processIo, { services: { slotPlatform } });
}
