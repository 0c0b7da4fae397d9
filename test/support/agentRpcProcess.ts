/**
 * A test entry that serves the agent RPC on stdin/stdout with the real journal, health
 * source and config store, the way `fieldkit-agent rpc` does:
 *
 *   node test/support/agentRpcProcess.ts <config.json> [agent-version]
 *
 * Tests run it as a child process (a pipe, or through the local link).
 */
import { createConfigStore, loadConfig } from '../../agent/config/loadConfig.ts';
import { createHealthSource } from '../../agent/health/healthSource.ts';
import { openJournalForConfig } from '../../agent/journal/openJournal.ts';
import { serveRpc } from '../../agent/rpc/rpcServer.ts';

const [configPath, agentVersion = '0.0.0-test'] = process.argv.slice(2);
if (configPath === undefined) {
  process.stderr.write('usage: agentRpcProcess.ts <config.json> [agent-version]\n');
  process.exit(2);
}
const config = loadConfig(configPath);
const journal = openJournalForConfig(config);
const health = createHealthSource({ config, journal, agentVersion, log: (line) => process.stderr.write(`${line}\n`) });
await serveRpc(process.stdin, process.stdout, { journal, health, config: createConfigStore(configPath, config), agentVersion });
health.close();
journal.close();
