/**
 * The agent's health gate after a switch, in order: `hello` over RPC answers with the new
 * version; the journal is there and writable by the service user; an event posted to the
 * agent's own HTTP ingest on the device comes back out of the journal; and (checked last,
 * over the whole window since the restart) the unit stays active without restarting.
 */
import { randomBytes } from 'node:crypto';
import type { HealthGateName } from '../../shared/deploy.ts';
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { openAgentSession, type AgentSession } from '../devices/deviceConnection.ts';
import { shellQuote } from '../link/linkApi.ts';
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

export async function runAgentGates(
  remote: RemoteSteps,
  options: { paths: AgentPaths; version: string; baselineRestarts: number; restartedAt: number; stableSeconds: number },
): Promise<GateFailure | null> {
  const { paths } = options;
  let session: AgentSession;
  try {
    session = await helloWithRetry(remote, paths, 'gate', 10_000, options.baselineRestarts);
  } catch (error) {
    return { gate: 'hello', error: isFieldkitError(error) ? error.appError : appError('UNAVAILABLE', String(error), 'Read the unit log lines.') };
  }
  try {
    if (session.hello.agent_version !== options.version) {
      return {
        gate: 'hello',
        error: appError('CONFLICT', `The agent answered hello as version ${session.hello.agent_version}, not ${options.version}.`, 'The switch to the new release did not take: read the transcript.'),
      };
    }

    // The journal: where the running config says, present and writable by the service user.
    const config = await session.client.call('config.get', {});
    if (!config.ok) return { gate: 'journal-writable', error: config.error };
    const dataDir = config.value.config.data_dir;
    const writable = await remote.run(
      'gate',
      `sudo -n -u ${shellQuote(paths.serviceUser)} sh -c ${shellQuote(`test -w ${shellQuote(dataDir)} && test -w ${shellQuote(`${dataDir}/journal.db`)}`)}`,
    );
    const info = await session.client.call('journal.info', {});
    if (writable.code !== 0 || !info.ok) {
      return {
        gate: 'journal-writable',
        error: appError('PERMISSION_DENIED', `The journal in ${dataDir} is missing or not writable by ${paths.serviceUser}.`, `Check ownership of ${dataDir} (it must belong to ${paths.serviceUser}) and that its disk is not read-only.`),
      };
    }

    // Ingest round trip: post through the daemon's own HTTP ingest, read it back from the journal.
    const host = config.value.config.ingest.host === '0.0.0.0' || config.value.config.ingest.host === '::' ? '127.0.0.1' : config.value.config.ingest.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${String(config.value.config.ingest.port)}/v1/events`;
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
  } finally {
    await session.close();
  }

  const unstable = await holdsStable(remote, 'gate', paths.unit, options.baselineRestarts, options.restartedAt + options.stableSeconds * 1000);
  return unstable === null ? null : { gate: 'service-stable', error: unstable };
}
