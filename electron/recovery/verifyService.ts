/**
 * After a restore the services must be correct, not only started: the agent says hello with
 * the device id the backup was of; its journal is the restored one and holds at least the
 * restored seq; an event posted to the daemon's own ingest endpoint on the device comes back
 * out of the journal (the round trip a producer makes); and a health sample has no critical
 * alert under the app's thresholds (the service running, temperature, disk).
 */
import type { HealthSample } from '../../shared/health.ts';
import { evaluateAlerts } from '../../shared/healthAlerts.ts';
import type { HealthThresholds } from '../../shared/fleetHealth.ts';
import type { RecoveryCheck } from '../../shared/recovery.ts';
import { openAgentSession, type AgentSession } from '../devices/index.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { StepCommands, StepRecorder } from './stepRecorder.ts';

export type ServiceTarget = {
  name: string;
  link: Link;
  /** The agent RPC command (devices' agentRpcCommand). */
  rpcCommand: string;
  /** `fieldkit-agent <args>` as the agent's service user (to read the journal back). */
  agentAsService: (args: string) => string;
  /** The node the deployed agent runs on, to post to its ingest endpoint from the device; null: none (a local agent). */
  nodePath: string | null;
};

export type Expected = { deviceId: string; journalId: string | null; journalLastSeq: number | null; thresholds: HealthThresholds };

export type ServiceVerdict = { checks: RecoveryCheck[]; sample: HealthSample | null; agentVersion: string | null };

/** The agent answers once its unit is up; a start on a slow card takes a few seconds. */
async function helloWithin(target: ServiceTarget, deadlineMs: number, signal: AbortSignal): Promise<AgentSession> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openAgentSession(target.link, target.rpcCommand);
    } catch (error) {
      if (Date.now() > deadlineMs || signal.aborted) throw error;
      // Backs off between attempts: each one is a real try of the condition, not a guess at a duration.
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 200 * 2 ** attempt)));
    }
  }
}

const checkEventKind = 'fieldkit.restore-check';

function ingestScript(host: string, port: number, nonce: string): string {
  const body = JSON.stringify({ priority: 3, kind: checkEventKind, payload: { nonce } });
  return `fetch(${JSON.stringify(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${String(port)}/v1/events`)},{method:'POST',headers:{'Content-Type':'application/json'},body:${JSON.stringify(body)}}).then(async(r)=>{process.stdout.write(await r.text());process.exit(r.ok?0:1)},(e)=>{process.stderr.write(String(e));process.exit(1)})`;
}

async function ingestRoundTrip(session: AgentSession, target: ServiceTarget, cmd: StepCommands, signal: AbortSignal): Promise<RecoveryCheck> {
  const nonce = `${String(Date.now())}-${Math.random().toString(36).slice(2, 10)}`;
  const config = await session.client.call('config.get', {});
  if (!config.ok) return { name: 'ingest', ok: false, detail: `config.get failed: ${config.error.message}` };
  const { host, port } = config.value.config.ingest;
  const post = target.nodePath === null
    ? `printf '%s' ${shellQuote(JSON.stringify({ priority: 3, kind: checkEventKind, payload: { nonce } }))} | ${target.agentAsService('ingest --json')}`
    : `${shellQuote(target.nodePath)} -e ${shellQuote(ingestScript(host, port, nonce))}`;
  // The unit is started before its daemon listens: a refused connection is tried again (with
  // backoff, up to a minute), each attempt recorded; any other failure is the answer.
  const deadline = Date.now() + 60_000;
  let posted = await cmd.exec(target.link, target.name, post, { timeoutMs: 30_000, signal });
  for (let attempt = 0; posted.code !== 0 && /fetch failed|ECONNREFUSED/.test(posted.stderr.toString()) && Date.now() < deadline && !signal.aborted; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
    posted = await cmd.exec(target.link, target.name, post, { timeoutMs: 30_000, signal });
  }
  if (posted.code !== 0) return { name: 'ingest', ok: false, detail: `posting an event failed: ${(posted.stdout.toString() + posted.stderr.toString()).trim().slice(0, 300)}` };
  const seq = (JSON.parse(posted.stdout.toString()) as { first_seq?: number }).first_seq ?? 0;
  const read = await cmd.exec(target.link, target.name, target.agentAsService(`export --after ${String(Math.max(0, seq - 1))} --limit 1`), { timeoutMs: 30_000, signal });
  const record = read.stdout.toString().trim();
  const ok = read.code === 0 && record.includes(nonce);
  return { name: 'ingest', ok, detail: ok ? `event posted to ${target.nodePath === null ? 'the agent' : `the daemon at ${host}:${String(port)}`} came back from the journal as seq ${String(seq)}` : `the event posted as seq ${String(seq)} did not come back from the journal (${record.slice(0, 200)})` };
}

function healthCheck(sample: HealthSample, thresholds: HealthThresholds): RecoveryCheck {
  const alerts = evaluateAlerts({ sample, lastSampleMs: Date.now(), backlog: [], thresholds, nowMs: Date.now(), previous: [] }).filter((a) => a.severity === 'critical');
  const service = sample.service === undefined ? 'service state unknown' : `service ${sample.service.state}`;
  if (sample.service !== undefined && sample.service.state !== 'running') return { name: 'health', ok: false, detail: `${service}: ${sample.service.detail}` };
  return alerts.length === 0
    ? { name: 'health', ok: true, detail: `${service}, temp ${sample.temp_c === null ? '?' : `${sample.temp_c.toFixed(1)} °C`}, no critical alert` }
    : { name: 'health', ok: false, detail: alerts.map((a) => `${a.title}: ${a.explanation}`).join('; ') };
}

/** Runs the checks as one step; a failed check is a result (ok false), not a throw. */
export async function verifyService(target: ServiceTarget, expected: Expected, steps: StepRecorder, signal: AbortSignal): Promise<ServiceVerdict> {
  return steps.step('verify-service', `Check ${target.name} works: hello, journal, an ingest round trip, a health sample`, async (cmd) => {
    const startedAt = Date.now();
    const session = await helloWithin(target, Date.now() + 90_000, signal);
    cmd.record({ on: target.name, command: `${target.rpcCommand}  (hello)`, startedAt, exitCode: 0 });
    const checks: RecoveryCheck[] = [];
    let sample: HealthSample | null = null;
    try {
      const hello = session.hello;
      checks.push({ name: 'hello', ok: hello.device_id === expected.deviceId, detail: `agent ${hello.agent_version} answers as ${hello.device_id}${hello.device_id === expected.deviceId ? '' : `, expected ${expected.deviceId}`}` });
      const info = await session.client.call('journal.info', {});
      const journal = info.ok ? info.value.journals.find((j) => j.journal_id === (expected.journalId ?? hello.journal_id)) : undefined;
      const holds = journal !== undefined && (expected.journalLastSeq === null || journal.last_seq >= expected.journalLastSeq);
      checks.push({ name: 'journal', ok: holds, detail: journal === undefined ? `journal ${expected.journalId ?? hello.journal_id} is not on the device` : `journal ${journal.journal_id} at seq ${String(journal.last_seq)}${expected.journalLastSeq === null ? '' : ` (restored up to ${String(expected.journalLastSeq)})`}` });
      checks.push(await ingestRoundTrip(session, target, cmd, signal));
      const health = await session.client.call('health.get', {});
      if (health.ok) {
        sample = health.value;
        checks.push(healthCheck(health.value, expected.thresholds));
      } else checks.push({ name: 'health', ok: false, detail: `no health sample: ${health.error.message}` });
      cmd.detail(checks.map((c) => `${c.name} ${c.ok ? 'ok' : 'FAILED'}`).join(', '));
      return { checks, sample, agentVersion: hello.agent_version };
    } finally {
      await session.close();
    }
  });
}
