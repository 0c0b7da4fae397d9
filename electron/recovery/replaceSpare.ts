/**
 * What a replace does on the spare itself, over its SSH link: reaching it under the right
 * host key, putting the dead device's SSH host keys in force (or new ones, when rotating),
 * and starting the replacement's journal so that it names the old one. Each operation is
 * safe to run again: a replace killed half-way reruns them.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import { JournalReplacesPayloadSchema } from '../../shared/journal.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { connectSsh, type SshLink } from '../kernel/link/sshLink.ts';
import type { StepCommands } from './stepRecorder.ts';

export type SpareAddress = { host: string; port: number; username: string; agentPrefix: string };

/** The agent unit deploy installs, and the user it runs as (build/agent/fieldkit-agent.service.in). */
export const agentUnit = 'fieldkit-agent.service';
const serviceUser = 'fieldkit-agent';

export function describeSpare(spare: SpareAddress): string {
  return `${spare.username}@${spare.host}:${String(spare.port)}`;
}

/** Connects to the spare presenting exactly `fingerprint`; any other key is refused (HOST_KEY_CHANGED). */
export function connectSpare(spare: SpareAddress, appKey: AppSshKey, fingerprint: string): Promise<SshLink> {
  return connectSsh({ target: { host: spare.host, port: spare.port, username: spare.username }, appKey, hostKey: { pinned: fingerprint }, timeoutMs: 15_000 });
}

async function run(commands: StepCommands, link: Link, on: string, command: string, what: string): Promise<string> {
  const result = await commands.exec(link, on, command, { timeoutMs: 120_000 });
  if (result.code !== 0) {
    const stderr = result.stderr.toString('utf8').trim().split('\n').slice(-3).join(' ');
    throw new FieldkitError(appError('UNAVAILABLE', `${what} failed on ${on} (exit ${String(result.code)}): ${stderr}`, 'Check the spare (sudo, disk space), then run the replace again: done steps are skipped.'));
  }
  return result.stdout.toString('utf8');
}

/**
 * Rotating credentials: new SSH host keys made on the spare, replacing the restored ones.
 * Answers the new ed25519 key's fingerprint, read over the link that is already authenticated.
 */
export async function rotateHostKeys(commands: StepCommands, link: Link, on: string): Promise<string> {
  await run(commands, link, on, 'sudo -n sh -c ' + shellQuote('rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub && ssh-keygen -A >/dev/null'), 'Making new SSH host keys');
  return hostKeyOf(commands, link, on);
}

/** The fingerprint (SHA256:…) of the spare's ed25519 host key on disk, the key sshd will present after a restart. */
export async function hostKeyOf(commands: StepCommands, link: Link, on: string): Promise<string> {
  const out = await run(commands, link, on, 'sudo -n ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_ed25519_key.pub', 'Reading the SSH host key');
  const match = /\b(SHA256:[A-Za-z0-9+/]+)/.exec(out);
  if (match?.[1] === undefined) throw new FieldkitError(appError('INTERNAL', `ssh-keygen on ${on} printed no fingerprint: ${out.trim()}`, 'Check /etc/ssh/ssh_host_ed25519_key.pub on the spare.'));
  return match[1];
}

/** Restarts sshd so the host keys on disk are the ones presented (the link in use survives: sshd keeps running sessions). */
export async function restartSshd(commands: StepCommands, link: Link, on: string): Promise<void> {
  await run(commands, link, on, 'sudo -n sh -c ' + shellQuote('systemctl restart ssh.service 2>/dev/null || systemctl restart sshd.service'), 'Restarting sshd');
}

/** The restored /etc/hostname in force now, not only at the next boot (the agent's hello reports it). */
export async function setHostname(commands: StepCommands, link: Link, on: string): Promise<void> {
  await run(commands, link, on, 'sudo -n sh -c ' + shellQuote('hostname "$(cat /etc/hostname)"'), 'Setting the hostname');
}

export async function stopAgent(commands: StepCommands, link: Link, on: string): Promise<void> {
  await run(commands, link, on, `sudo -n systemctl stop ${agentUnit}`, 'Stopping the agent');
}

export async function startAgent(commands: StepCommands, link: Link, on: string): Promise<void> {
  await run(commands, link, on, `sudo -n systemctl start ${agentUnit}`, 'Starting the agent');
}

/** The deployed agent as its service user (its journal and config are that user's). */
function agentAsService(spare: SpareAddress): string {
  return `sudo -n -u ${serviceUser} ${shellQuote(`${spare.agentPrefix}/current/bin/fieldkit-agent`)}`;
}

/** The agent's version on the spare, or null when none is installed. */
export async function spareAgentVersion(commands: StepCommands, link: Link, spare: SpareAddress): Promise<string | null> {
  const result = await commands.exec(link, describeSpare(spare), `${agentAsService(spare)} version`, { timeoutMs: 30_000 });
  if (result.code !== 0) return null;
  const parsed = JSON.parse(result.stdout.toString('utf8')) as { agent_version?: unknown };
  return typeof parsed.agent_version === 'string' ? parsed.agent_version : null;
}

/**
 * The replacement's journal, started so that its first record names the old journal. The
 * journal restored from the backup (the old journal itself), and one the deploy's gate let
 * the agent start, are moved aside by the agent first, kept: the replacement never writes on
 * under the failed device's journal id, and its journal begins with the continuity record.
 * Called with the agent stopped; safe to repeat. Answers the new journal's id.
 */
export async function startContinuedJournal(commands: StepCommands, link: Link, spare: SpareAddress, old: { journalId: string; throughSeq: number }): Promise<{ journalId: string; created: boolean }> {
  const on = describeSpare(spare);
  JournalReplacesPayloadSchema.parse({ replaces_journal_id: old.journalId, last_known_seq: old.throughSeq });
  const out = await run(commands, link, on, `${agentAsService(spare)} journal-replaces --journal ${shellQuote(old.journalId)} --through ${String(old.throughSeq)} --aside`, 'Starting the continued journal');
  const answer = JSON.parse(out) as { journal_id?: unknown; created?: unknown };
  if (typeof answer.journal_id !== 'string') throw new FieldkitError(appError('INTERNAL', `journal-replaces on ${on} answered without a journal id: ${out.trim()}`, 'Report this.'));
  return { journalId: answer.journal_id, created: answer.created === true };
}
