#!/usr/bin/env node
/** Entry of the `fieldkit` command. */
import { processIo } from '../kernel/cli/cliIo.ts';
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv.slice(2), processIo);
