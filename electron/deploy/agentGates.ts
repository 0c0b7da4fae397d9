/**
 * The agent's health gate after a switch, in order: `hello` over RPC answers with the new
 * version; the journal is there and writable by the service user; an event posted to the
 * agent's own HTTP ingest on the device comes back out of the journal; and (checked last,
 * over the whole window since the restart) the unit stays active without restarting.
 */
import { randomBytes } from 'node:crypto';
import { AgentConfigSchema, type AgentConfig } from '../../shared/agentConfig.ts';
import type { HealthGateName } from '../../shared/deploy.ts';
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { openAgentSession, type AgentSession } from '../devices/index.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { RemoteSteps } from './remoteSteps.ts';
import { holdsStable, unitState } from './serviceControl.ts';

export type AgentPaths = { prefix: string; configPath: string; unit: string; serviceUser: string };

export type GateFailure = { gate: HealthGateName; error: AppError };

/** The agent's command line on the device, run as the service user (it owns the journal and config). */
export function deployedAgentCommand(paths: AgentPaths): string {
  return `sudo -n -u ${shellQuote(paths.serviceUser)} ${shellQuote(`${paths.prefix}/current/bin/fieldkit-agent`)} --config ${shellQuote(paths.configPath)}`;
}

/** The RPC command for a deployed agent (what openAgentSession needs). */
export function deployedAgentRpcCommand(paths: AgentPaths): string {
  return `${deployedAgentCommand(paths)} rpc`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Greets the agent, retrying while it starts (up to `timeoutMs`); the last error if it
 * never answers. Stops retrying early once systemd has restarted the unit: it crashed.
 */
export async function helloWithRetry(remote: RemoteSteps, paths: AgentPaths, step: string, timeoutMs: number, baselineRestarts?: number): Promise<AgentSession> {
  const command = deployedAgentRpcCommand(paths);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    remote.throwIfCancelled();
    const began = performance.now();
    try {
      const session = await openAgentSession(remote.link, command);
      remote.note(step, `${command}  ← hello`, `agent_version ${session.hello.agent_version}, device ${session.hello.device_id}, journal ${session.hello.journal_id}, clock offset ${String(Math.round(session.clockOffsetMs))} ms`, performance.now() - began);
      return session;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      remote.note(step, `${command}  ← hello (attempt ${String(attempt)})`, message, performance.now() - began, null);
      if (Date.now() + 1000 > deadline || (isFieldkitError(error) && error.appError.code === 'CANCELLED')) throw error;
      await sleep(1000);
      if (baselineRestarts !== undefined) {
        const state = await unitState(remote, step, paths.unit);
        // Not active right after a restart (auto-restart pending, failed): it crashed; waiting would not help.
        if (state.nRestarts > baselineRestarts || state.activeState !== 'active') throw error;
      }
    }
  }
}

/**
 * Waits until the daemon answers its HTTP /health (it listens only once its journal is
 * open), giving up early when the unit is not active. Greeting it sooner would start an
 * `rpc` process that opens the journal while the daemon is still creating it: on a first
 * install the daemon then finds the database locked, exits, and is restarted.
 */
async function waitForDaemon(remote: RemoteSteps, paths: AgentPaths): Promise<void> {
  const text = await remote.run('gate', `cat ${shellQuote(paths.configPath)}`, { sudo: true });
  let config: AgentConfig;
  try {
    config = AgentConfigSchema.parse(JSON.parse(text.stdout.toString('utf8')));
  } catch {
    return; // the gates below will say what is wrong
  }
  const host = config.ingest.host === '0.0.0.0' || config.ingest.host === '::' ? '127.0.0.1' : config.ingest.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${String(config.ingest.port)}/health`;
  const node = shellQuote(`${paths.prefix}/current/node/bin/node`);
  const probe = shellQuote(`fetch(${JSON.stringify(url)}).then(()=>process.exit(0),()=>process.exit(1))`);
  await remote.run(
    'gate',
    `for i in $(seq 60); do s=$(systemctl show -p ActiveState --value ${shellQuote(paths.unit)}); [ "$s" = active ] || { echo "ActiveState=$s"; exit 1; }; ${node} -e ${probe} && { echo "daemon answers ${url}"; exit 0; }; sleep 0.25; done; echo "no answer from ${url}"; exit 1`,
    { timeoutMs: 60_000 },
  );
}

export async function runAgentGates(
  remote: RemoteSteps,
  options: { paths: AgentPaths; version: string; baselineRestarts: number; restartedAt: number; stableSeconds: number },
): Promise<GateFailure | null> {
  const { paths } = options;
  await waitForDaemon(remote, paths);
  let session: AgentSession;
  try {
    session = await helloWithRetry(remote, paths, 'gate', 10_000, options.baselineRestarts);
  } catch (error) {
    return { gate: 'hello', error: isFieldkitError(error) ? error.appError : appError('UNAVAILABLE', String(error), 'Read the unit log lines.') };
  }
  // Everything asked over RPC first, then the session closed: a serial console carries one
  // thing at a time, and the shell checks below need it back.
  let config: AgentConfig;
  let journalInfoOk: boolean;
  try {
    if (session.hello.agent_version !== options.version) {
      return {
        gate: 'hello',
        error: appError('CONFLICT', `The agent answered hello as version ${session.hello.agent_version}, not ${options.version}.`, 'The switch to the new release did not take: read the transcript.'),
      };
    }
    const got = await session.client.call('config.get', {});
    if (!got.ok) return { gate: 'journal-writable', error: got.error };
    config = got.value.config;
    journalInfoOk = (await session.client.call('journal.info', {})).ok;
  } finally {
    await session.close();
  }

  // The journal: where the running config says, present and writable by the service user.
  const dataDir = config.data_dir;
  const writable = await remote.run(
    'gate',
    `sudo -n -u ${shellQuote(paths.serviceUser)} sh -c ${shellQuote(`test -w ${shellQuote(dataDir)} && test -w ${shellQuote(`${dataDir}/journal.db`)}`)}`,
  );
  if (writable.code !== 0 || !journalInfoOk) {
    return {
      gate: 'journal-writable',
      error: appError('PERMISSION_DENIED', `The journal in ${dataDir} is missing or not writable by ${paths.serviceUser}.`, `Check ownership of ${dataDir} (it must belong to ${paths.serviceUser}) and that its disk is not read-only.`),
    };
  }

  // Ingest round trip: post through the daemon's own HTTP ingest, read it back from the journal.
  const host = config.ingest.host === '0.0.0.0' || config.ingest.host === '::' ? '127.0.0.1' : config.ingest.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${String(config.ingest.port)}/v1/events`;
  const nonce = randomBytes(8).toString('hex');
  const event = JSON.stringify({ priority: 3, kind: 'fieldkit.deploy.gate', payload: { nonce, version: options.version } });
  const js = `const u=${JSON.stringify(url)},b=${JSON.stringify(event)};for(let i=0;i<40;i++){try{const r=await fetch(u,{method:'POST',headers:{'content-type':'application/json'},body:b});const t=await r.text();console.log(r.status+' '+t);process.exit(r.ok?0:1)}catch(e){if(i===39){console.log(String(e));process.exit(1)}await new Promise(s=>setTimeout(s,250))}}`;
  const posted = await remote.run('gate', `${shellQuote(`${paths.prefix}/current/node/bin/node`)} --input-type=module -e ${shellQuote(js)}`);
  const postedText = posted.stdout.toString('utf8').trim();
  const firstSeq = /"first_seq":(\d+)/.exec(postedText)?.[1];
  if (posted.code !== 0 || firstSeq === undefined) {
    return { gate: 'ingest-round-trip', error: appError('UNAVAILABLE', `The agent's ingest at ${url} did not accept an event: ${postedText.slice(0, 300) || 'no answer'}.`, 'Read the unit log lines: the daemon may not have started its HTTP ingest.') };
  }
  const exported = await remote.run('gate', `${deployedAgentCommand(paths)} export --after ${String(Number(firstSeq) - 1)} --limit 1`);
  if (exported.code !== 0 || !exported.stdout.toString('utf8').includes(nonce)) {
    return { gate: 'ingest-round-trip', error: appError('IO_ERROR', `An event the ingest accepted (seq ${firstSeq}) could not be read back from the journal.`, 'The journal may be damaged or on a failing disk: pull it and check the device storage.') };
  }

  const unstable = await holdsStable(remote, 'gate', paths.unit, options.baselineRestarts, options.restartedAt + options.stableSeconds * 1000);
  return unstable === null ? null : { gate: 'service-stable', error: unstable };
}
