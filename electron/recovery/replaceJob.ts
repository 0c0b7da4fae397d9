/**
 * The recovery.replace job: a spare becomes the dead device. Steps, in order:
 *
 * 0. With a drive (replaceDrive.ts): `flash` — the image the device ran, with its first-boot
 *    identity, once per replace — then `wait-for-spare`, until the spare booted from it answers.
 * 1. `deploy-agent` — the agent version the device ran, through the deploy engine (signed
 *    bundle, gated), or confirmed already there.
 * 2. `restore-classes` — with the agent stopped, secrets (identity, SSH host keys), config and
 *    state restored (restoreOnto: snapshots checked before anything is touched).
 * 3. `host-keys` — the restored key must be the one pinned for the device; with
 *    `rotateCredentials` new keys are made instead. sshd restarted so the spare presents them,
 *    and the spare reached again under that key (the pinned key accepted without a prompt).
 * 4. `journal-continuity` — the laptop closes the old journal (loss record "lost with the
 *    failed device" for what only the dead card held); the spare's journal is started anew,
 *    its first record naming the old one (the restored old journal and any journal the
 *    deploy's gate made are moved aside, kept); then the agent starts.
 * 5. `repoint` — the device entry now reaches the spare; a rotated key is pinned, so the old
 *    one is refused from then on, as any changed key.
 * 6. `verify` — hello with the same device id and version, the continued journal, an ingest
 *    round trip, a health sample within thresholds (replaceChecks.ts).
 *
 * The flash and steps 1–5 are recorded as done with their facts (replaceStepStore.ts): a replace killed and
 * run again skips them, so the spare never gets a second journal. RTO counts from the first
 * run's start to healthy.
 */
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { RecoveryStep } from '../../shared/recovery.ts';
import type { ReplaceResult } from '../../shared/recoveryReplace.ts';
import { passwordSecret, resticRepoFor } from '../backup/index.ts';
import { closeReplacedJournal, latestJournalOf } from '../courier/index.ts';
import { deployBundle, openBundle } from '../deploy/index.ts';
import { agentRpcCommand, createDeviceStore } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey, type AppSshKey } from '../kernel/link/appSshKey.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { SshLink } from '../kernel/link/sshLink.ts';
import { openStore, type Store } from '../kernel/store/openStore.ts';
import { listTrustedKeys } from '../kernel/trust/trustStore.ts';
import { createRecoveryRunStore } from './recoveryRunStore.ts';
import { saveRunbook } from './runbook.ts';
import { checkReplacement } from './replaceChecks.ts';
import { replaceKey, type ReplaceParams } from './replaceParams.ts';
import { agentUnit, connectSpare, setHostname, describeSpare, hostKeyOf, restartSshd, rotateHostKeys, spareAgentVersion, startAgent, startContinuedJournal, stopAgent } from './replaceSpare.ts';
import { checkSameFlash, flashDrive, refuseUncheckedSpareKey, waitForSpare } from './replaceDrive.ts';
import { createReplaceStepStore, type StepFacts } from './replaceStepStore.ts';
import { restoreOnto, type RestoreSource } from './restoreOnto.ts';
import { createStepRecorder, type StepCommands, type StepRecorder } from './stepRecorder.ts';

type Run = {
  params: ReplaceParams;
  ctx: JobContext;
  db: Store;
  steps: StepRecorder;
  appKey: AppSshKey;
  /** The facts of a step an earlier run of this replace finished, or null. */
  doneBefore(name: string): StepFacts | null;
  /** Runs a step once per replace: done before (an earlier, killed run) → skipped with its facts. */
  once(name: string, title: string, body: (commands: StepCommands) => Promise<StepFacts>): Promise<StepFacts>;
};

function sourceOf(params: ReplaceParams, ctx: JobContext, classes: readonly string[]): RestoreSource {
  const snapshots = params.classes
    .filter((c) => classes.includes(c.class))
    .map((c) => ({ class: c.class, resticId: c.resticId, repo: resticRepoFor(c.repo, ctx.secrets[passwordSecret(c.repo)] ?? '', params.dataDir) }));
  return { pointId: params.pointId, deviceId: params.deviceId, snapshots };
}

async function restoreClasses(run: Run, link: SshLink, classes: readonly string[]): Promise<number | null> {
  const { params, ctx } = run;
  const source = sourceOf(params, ctx, classes);
  if (source.snapshots.length === 0) return null;
  // No services for restoreOnto to start: the agent must not run on the restored old journal (its ids are the dead device's).
  const agent = shellQuote(`${params.spare.agentPrefix}/current/bin/fieldkit-agent`);
  const target = { name: describeSpare(params.spare), link, agentCommand: (args: string) => `sudo -n ${agent} ${args}`, services: [], expectedDeviceId: params.deviceId };
  const outcome = await restoreOnto(source, target, { classes: source.snapshots.map((s) => s.class), signal: ctx.signal, steps: run.steps });
  return outcome.restored.find((r) => r.class === 'state')?.journalLastSeq ?? null;
}

/** Step 3: the dead device's host key (or a new one) in force on the spare. */
async function hostKeys(run: Run, link: SshLink): Promise<string> {
  const { params } = run;
  const facts = await run.once('host-keys', params.rotateCredentials ? 'New SSH host keys (rotate credentials)' : "The device's SSH host key in force", async (c) => {
    const on = describeSpare(params.spare);
    const fingerprint = params.rotateCredentials ? await rotateHostKeys(c, link, on) : await hostKeyOf(c, link, on);
    if (!params.rotateCredentials && params.pinnedHostKey !== null && fingerprint !== params.pinnedHostKey) {
      throw new FieldkitError(appError('CONFLICT', `The restored SSH host key (${fingerprint}) is not the one pinned for ${params.deviceName} (${params.pinnedHostKey}).`, 'Choose a restore point that holds its keys, or replace with --rotate-credentials.'));
    }
    await restartSshd(c, link, on);
    await setHostname(c, link, on);
    c.detail(`${fingerprint}${params.rotateCredentials ? ' (new)' : ' (the pinned key)'}`);
    return { fingerprint };
  });
  return typeof facts.fingerprint === 'string' ? facts.fingerprint : '';
}

/** Step 1: the version the device ran, through the deploy engine. */
async function deployAgent(run: Run, link: SshLink): Promise<void> {
  const { params, ctx, db } = run;
  await run.once('deploy-agent', `Deploy agent ${params.agentVersion ?? '(the bundle given)'}`, async (c) => {
    const there = await spareAgentVersion(c, link, params.spare);
    if (params.agentBundlePath === null) {
      if (params.agentVersion !== null && there !== params.agentVersion) {
        throw new FieldkitError(appError('BAD_REQUEST', `The spare runs agent ${there ?? '(none)'}, not ${params.agentVersion}, and no bundle was given.`, `Give the signed agent bundle of ${params.agentVersion} (--agent-bundle).`, 'agentBundlePath'));
      }
      c.detail(`agent ${there ?? ''} already on the spare`);
      return { version: there };
    }
    const bundle = await openBundle(params.agentBundlePath, listTrustedKeys(db));
    if (params.agentVersion !== null && bundle.manifest.version !== params.agentVersion) {
      throw new FieldkitError(appError('BAD_REQUEST', `The bundle is agent ${bundle.manifest.version}; ${params.deviceName} ran ${params.agentVersion}.`, `Give the bundle of ${params.agentVersion}: a replacement runs what the device ran.`, 'agentBundlePath'));
    }
    const result = await deployBundle({ link, bundle, prefix: params.spare.agentPrefix, stableSeconds: 3, agentConfig: { device_id: params.deviceId }, signal: ctx.signal });
    for (const t of result.transcript) c.record({ on: describeSpare(params.spare), command: t.command, startedAt: t.at, durationMs: t.durationMs, exitCode: t.exitCode });
    if ((result.status !== 'updated' && result.status !== 'unchanged') || result.error !== null) throw new FieldkitError(result.error ?? appError('UNAVAILABLE', `The deploy ended ${result.status}.`, 'See the transcript.'));
    c.detail(`agent ${bundle.manifest.version} deployed (was ${there ?? 'none'})`);
    return { version: bundle.manifest.version };
  });
}

/** Step 2: secrets, config and state back, with the agent stopped. */
async function restoreAll(run: Run, link: SshLink): Promise<StepFacts> {
  const { params } = run;
  return run.once('restore-classes', `Restore ${params.classes.map((c) => c.class).join(', ')} of ${params.pointId} (agent stopped)`, async (c) => {
    await stopAgent(c, link, describeSpare(params.spare));
    return { journalLastSeq: await restoreClasses(run, link, params.classes.map((k) => k.class)) };
  });
}

/** Step 4: the old journal closed on the laptop, the new one started on the spare naming it. */
async function continueJournal(run: Run, link: SshLink, restored: StepFacts): Promise<StepFacts> {
  const { params, db } = run;
  return run.once('journal-continuity', 'Close the old journal; start the new one naming it', async (c) => {
    await stopAgent(c, link, describeSpare(params.spare));
    const old = latestJournalOf(db, params.deviceId);
    if (old === null) {
      c.detail(`no journal of ${params.deviceId} was ever pulled: nothing to continue`);
      return { oldJournalId: null, throughSeq: 0, knownHeadSeq: 0, lostRecords: 0, newJournalId: '' };
    }
    const evidence = typeof restored.journalLastSeq === 'number' ? restored.journalLastSeq : 0;
    const closed = closeReplacedJournal(db, { deviceId: params.deviceId, journalId: old.journal_id, evidenceSeq: evidence, nowMs: Date.now() });
    const started = await startContinuedJournal(c, link, params.spare, { journalId: old.journal_id, throughSeq: closed.through_seq });
    c.detail(`journal ${old.journal_id} complete through seq ${String(closed.through_seq)}${closed.lost === null ? '' : `; seq ${String(closed.lost.from_seq)}-${String(closed.lost.to_seq)} lost with the failed device`}; new journal ${started.journalId}`);
    return { oldJournalId: old.journal_id, throughSeq: closed.through_seq, knownHeadSeq: closed.known_head_seq, lostRecords: closed.lost?.count ?? 0, newJournalId: started.journalId };
  });
}

/** The runbook from what ran (runbook.ts); a failure to write it is said in the log, never hides the replace's own outcome. */
function writeRunbook(params: ReplaceParams, result: ReplaceResult, startedAt: number, failure: AppError | null): string | null {
  try {
    return saveRunbook(params.dataDir, {
      kind: 'replace', deviceName: params.deviceName, targetName: result.spare, pointId: params.pointId, pointTime: Math.max(...params.classes.map((c) => c.time)),
      classes: params.classes.map((c) => c.class), startedAt, ok: result.ok, error: failure?.message ?? null, steps: result.steps, checks: result.checks, rtoMs: result.rtoMs, rpo: null,
    });
  } catch {
    return null;
  }
}

export async function runReplace(params: ReplaceParams, ctx: JobContext): Promise<ReplaceResult> {
  const db = openStore(params.dataDir);
  const key = replaceKey(params);
  const store = createReplaceStepStore(db);
  const { firstStartedMs } = store.begin(key, params.deviceRef, Date.now());
  const done = new Map(store.done(key).map((d) => [d.step, d]));
  // What earlier runs did (a killed one included) comes first: the runbook holds every command.
  const earlier = store.transcript(key);
  const steps = createStepRecorder((step, phase) => {
    if (phase === 'started') ctx.progress({ phase: step.title, bytesDone: 0, bytesTotal: null, unit: 'items' });
  });
  const transcript = (): RecoveryStep[] => [...earlier, ...steps.steps().filter((s) => s.status !== 'skipped')];
  const run: Run = {
    params, ctx, db, steps, appKey: loadOrCreateAppSshKey(params.dataDir),
    doneBefore: (name) => done.get(name)?.facts ?? null,
    async once(name, title, body) {
      // Between steps: a cancel, or the app that started this worker gone (a killed CLI), stops here.
      throwIfCancelled(ctx.signal);
      const prior = done.get(name);
      if (prior !== undefined) {
        steps.skip(name, title, `done by an earlier run at ${new Date(prior.doneMs).toISOString()}`);
        return prior.facts;
      }
      const startedMs = Date.now();
      const facts = await steps.step(name, title, body);
      store.markDone(key, name, startedMs, Date.now(), facts);
      store.saveTranscript(key, transcript());
      return facts;
    },
  };
  const result: ReplaceResult = { deviceRef: params.deviceRef, deviceName: params.deviceName, spare: describeSpare(params.spare), steps: [], checks: [], continuity: null, hostKey: null, agentVersion: params.agentVersion, rtoMs: null, ok: false, runbookPath: null, recoveryRunId: null };
  let failure: AppError | null = null;
  let cancelled: JobCancelledError | null = null;
  try {
    await replaceOnSpare(run, result);
    result.ok = result.checks.length > 0 && result.checks.every((c) => c.ok);
    if (result.ok) {
      result.rtoMs = Date.now() - firstStartedMs;
      store.finish(key, Date.now());
    } else {
      const failed = result.checks.filter((c) => !c.ok);
      failure = appError('UNAVAILABLE', `The replacement is not healthy: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}.`, 'Fix what the checks name on the spare, then run the same replace again: done steps are skipped.');
    }
  } catch (error) {
    if (error instanceof JobCancelledError) {
      cancelled = error;
      failure = appError('CANCELLED', 'The replace was stopped.', 'Run the same replace again: done steps are skipped.');
    } else failure = isFieldkitError(error) ? error.appError : appError('INTERNAL', error instanceof Error ? error.message : String(error), 'Run the same replace again: done steps are skipped.');
  } finally {
    result.steps = transcript();
    store.saveTranscript(key, result.steps);
    result.runbookPath = writeRunbook(params, result, firstStartedMs, failure);
    result.recoveryRunId = createRecoveryRunStore(db).record({
      kind: 'replace', jobId: null, deviceRef: params.deviceRef, deviceName: params.deviceName, targetRef: params.deviceRef, targetName: describeSpare(params.spare),
      pointId: params.pointId, startedMs: firstStartedMs, endedMs: Date.now(), ok: result.ok, rtoMs: result.rtoMs, rpoAgeSeconds: null, error: failure, result, runbookPath: result.runbookPath,
    });
    db.close();
  }
  if (cancelled !== null) throw new JobCancelledError(cancelled.message, result);
  if (failure !== null) throw new JobFailedError(failure, result);
  return result;
}

/**
 * The spare under the key it presents now: its own before the host-keys step, the device's
 * (or the rotated one) after it — also when a killed run restarted sshd but did not record it.
 */
async function firstContact(run: Run): Promise<SshLink> {
  const { params } = run;
  const keysDone = run.doneBefore('host-keys');
  if (typeof keysDone?.fingerprint === 'string') return connectSpare(params.spare, run.appKey, keysDone.fingerprint);
  if (params.spareHostKey === null) return refuseUncheckedSpareKey(params.spare, run.appKey);
  try {
    return await connectSpare(params.spare, run.appKey, params.spareHostKey);
  } catch (error) {
    const changed = isFieldkitError(error) && error.appError.code === 'HOST_KEY_CHANGED';
    if (!changed || params.rotateCredentials || params.pinnedHostKey === null) throw error;
    return connectSpare(params.spare, run.appKey, params.pinnedHostKey);
  }
}

/**
 * The drive path (replaceDrive.ts): the image flashed once per replace (a rerun finds it done
 * and checks it is the same drive and image), then a bounded, cancellable wait for the spare
 * booted from it to answer SSH at the replace's address.
 */
async function flashAndBoot(run: Run): Promise<void> {
  const { params, ctx } = run;
  const flash = params.flash;
  if (flash === null) return;
  const prior = run.doneBefore('flash');
  if (prior !== null) checkSameFlash(prior, flash);
  await run.once('flash', `Flash image ${flash.image.version} onto ${flash.drive.device} as ${flash.identity.deviceId}`, (c) => flashDrive(flash, ctx, c));
  if (run.doneBefore('host-keys') !== null) return; // the spare answered and was worked on by an earlier run
  const where = describeSpare(params.spare);
  await run.steps.step('wait-for-spare', `Wait for the spare booted from ${flash.drive.device} to answer SSH at ${where}`, async (c) => {
    const started = Date.now();
    await waitForSpare(params.spare, flash.bootWaitSeconds, ctx.signal, (left) => {
      ctx.progress({ phase: `Waiting for the spare booted from ${flash.drive.device} to answer SSH at ${where} (${String(left)} s left)`, bytesDone: 0, bytesTotal: null, unit: 'items' });
    });
    c.detail(`answered after ${String(Math.round((Date.now() - started) / 1000))} s`);
  });
}

async function replaceOnSpare(run: Run, result: ReplaceResult): Promise<void> {
  const { params } = run;
  const devices = createDeviceStore(run.db);
  await flashAndBoot(run);
  let link = await firstContact(run);
  try {
    await deployAgent(run, link);
    const restored = await restoreAll(run, link);
    const fingerprint = await hostKeys(run, link);
    await link.close();
    // Reached again under the key the device will be pinned to: accepted without a prompt.
    link = await run.steps.step('reconnect', "Reconnect under the device's host key", async (c) => {
      const again = await connectSpare(params.spare, run.appKey, fingerprint);
      c.detail(`${describeSpare(params.spare)} presented ${again.hostKeyFingerprint}`);
      return again;
    });
    const continuity = await continueJournal(run, link, restored);
    throwIfCancelled(run.ctx.signal);
    await run.steps.step('start-agent', `Start ${agentUnit}`, async (c) => startAgent(c, link, describeSpare(params.spare)));
    const repointed = await run.once('repoint', `Point ${params.deviceName} at the replacement`, (c) => {
      const revoked = params.rotateCredentials ? params.pinnedHostKey : null;
      // The spare's own entry (a spare kept registered, as drills use one) is the identity it no
      // longer has: its address now belongs to this device. Its pulled journals stay.
      const former = devices.list().find((d) => d.id !== params.deviceRef && d.link.kind === 'ssh' && d.link.host === params.spare.host && d.link.port === params.spare.port);
      if (former !== undefined) devices.remove(former.id);
      devices.setLink(params.deviceRef, { kind: 'ssh', host: params.spare.host, port: params.spare.port, username: params.spare.username, agentPrefix: params.spare.agentPrefix });
      devices.pinHostKey(params.deviceRef, fingerprint);
      c.detail(`${describeSpare(params.spare)}, host key ${fingerprint}${revoked === null ? '' : `; ${revoked} no longer accepted`}${former === undefined ? '' : `; the spare's own entry ${former.name} removed (its pulled journals stay)`}`);
      return Promise.resolve({ fingerprint, revoked, formerEntry: former?.name ?? null });
    });
    result.hostKey = { fingerprint, rotated: params.rotateCredentials, revoked: typeof repointed.revoked === 'string' ? repointed.revoked : null };
    const newJournalId = typeof continuity.newJournalId === 'string' && continuity.newJournalId !== '' ? continuity.newJournalId : null;
    const oldJournalId = typeof continuity.oldJournalId === 'string' ? continuity.oldJournalId : null;
    if (newJournalId !== null) {
      result.continuity = { oldJournalId, throughSeq: Number(continuity.throughSeq), knownHeadSeq: Number(continuity.knownHeadSeq), lostRecords: Number(continuity.lostRecords), newJournalId };
    }
    const device = devices.get(params.deviceRef);
    const ingest = `sudo -n -u fieldkit-agent ${params.spare.agentPrefix}/current/bin/fieldkit-agent ingest --json`;
    result.checks = await run.steps.step('verify', 'Check the service: hello, journal, ingest, health', async (c) => {
      const checks = await checkReplacement(link, agentRpcCommand(device), ingest, { deviceId: params.deviceId, agentVersion: params.agentVersion, journalId: newJournalId, replacesJournalId: oldJournalId });
      c.detail(checks.map((k) => `${k.name} ${k.ok ? 'ok' : 'FAILED'}`).join(', '));
      return checks;
    });
  } finally {
    await link.close();
  }
}
