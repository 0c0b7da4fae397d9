/**
 * Service correctness of a replacement, not only startup: the agent greets with the dead
 * device's id and the expected version; its journal is the continued one and begins by naming
 * the old journal; an event ingested on the device comes back through the RPC (an ingest
 * round trip); a health sample is within the thresholds (temperature below 80 °C, no
 * throttling or under-voltage now).
 */
import { journalReplacesKind, JournalReplacesPayloadSchema } from '../../shared/journal.ts';
import type { RecoveryCheck } from '../../shared/recovery.ts';
import { openAgentSession, type AgentSession } from '../devices/index.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { verifyJournalBatch } from '../kernel/link/verifyJournalBatch.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';

export type Expected = { deviceId: string; agentVersion: string | null; journalId: string | null; replacesJournalId: string | null };

function check(name: RecoveryCheck['name'], ok: boolean, detail: string): RecoveryCheck {
  return { name, ok, detail };
}

/** Reads records of the journal after `afterSeq` (up to `limit`) over the RPC. */
async function readRecords(session: AgentSession, journalId: string, afterSeq: number, limit: number): Promise<{ seq: number; kind: string; payload: string }[]> {
  const records: { seq: number; kind: string; payload: string }[] = [];
  const stream = session.client.stream('journal.read', { journal_id: journalId, after_seq: afterSeq, limit, batch_records: 5000, batch_bytes: 4 * 1024 * 1024 });
  for await (const item of stream) {
    const batch = verifyJournalBatch(item);
    if (!batch.ok) throw new Error(batch.error.message);
    records.push(...batch.value.records);
  }
  const answer = await stream.result;
  if (!answer.ok) throw new Error(answer.error.message);
  return records;
}

/** The checks, each with what it found; a check that cannot run fails with why. */
export async function checkReplacement(link: Link, rpcCommand: string, ingestCommand: string, expected: Expected): Promise<RecoveryCheck[]> {
  const checks: RecoveryCheck[] = [];
  let session: AgentSession;
  try {
    session = await openAgentSession(link, rpcCommand);
  } catch (error) {
    return [check('hello', false, `the agent did not answer: ${error instanceof Error ? error.message : String(error)}`)];
  }
  try {
    const hello = session.hello;
    const versionOk = expected.agentVersion === null || hello.agent_version === expected.agentVersion;
    checks.push(check('hello', hello.device_id === expected.deviceId && versionOk, `device ${hello.device_id} (expected ${expected.deviceId}), agent ${hello.agent_version}${expected.agentVersion === null ? '' : ` (expected ${expected.agentVersion})`}, hostname ${hello.hostname}`));

    const [first] = await readRecords(session, hello.journal_id, 0, 1);
    const claim = first?.kind === journalReplacesKind ? JournalReplacesPayloadSchema.safeParse(JSON.parse(first.payload)) : null;
    const names = claim?.success === true ? claim.data.replaces_journal_id : null;
    const journalOk = (expected.journalId === null || hello.journal_id === expected.journalId) && names === expected.replacesJournalId;
    checks.push(check('journal', journalOk, `journal ${hello.journal_id}${names === null ? ', names no replaced journal' : `, seq 1 names journal ${names}`}${expected.replacesJournalId === null ? '' : ` (expected ${expected.replacesJournalId})`}`));

    const marker = `replace-check-${String(Date.now())}`;
    const ingested = await link.exec(`printf '%s\\n' ${shellQuote(JSON.stringify({ priority: 3, kind: 'recovery.check', payload: { marker } }))} | ${ingestCommand}`, { timeoutMs: 30_000 });
    const seq = ingested.code === 0 ? (JSON.parse(ingested.stdout.toString('utf8')) as { last_seq?: number }).last_seq ?? 0 : 0;
    const back = seq > 0 ? await readRecords(session, hello.journal_id, seq - 1, 1) : [];
    const roundTrip = back[0]?.seq === seq && back[0].payload.includes(marker);
    checks.push(check('ingest', roundTrip, roundTrip ? `event ingested as seq ${String(seq)} and read back over the RPC` : `ingest answered ${ingested.stderr.toString('utf8').trim() || `seq ${String(seq)}`}; not read back`));

    const sample = await session.client.call('health.get', {});
    if (!sample.ok) {
      checks.push(check('health', false, `no health sample: ${sample.error.message}`));
    } else {
      const s = sample.value;
      const hot = s.temp_c !== null && s.temp_c >= 80;
      const throttled = s.throttling?.now.throttled === true || s.throttling?.now.under_voltage === true;
      checks.push(check('health', !hot && !throttled, `temperature ${s.temp_c === null ? 'unknown' : `${s.temp_c.toFixed(1)} °C`}, ${throttled ? 'throttled or under-voltage now' : 'no throttling now'}`));
    }
  } finally {
    await session.close();
  }
  return checks;
}
