/**
 * One device, a model bundle: the agent's pattern for model files — send what the device
 * lacks into the shared object store, assemble `<prefix>/models/<version>` and check every
 * SHA-256 there, only then switch `models/active` (keeping `models/previous`), restart the
 * named inference service and hold it to the gate; a failure switches back and restarts.
 * Two local copies at least are always kept, so going back never needs the link.
 */
import type { AppError } from '../../shared/errors.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { installedModelManifestPath, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { combineRefusals } from './deployAgent.ts';
import type { DeployContext, DeployResult } from './deployTypes.ts';
import { assembleRelease, missingObjects, prepareStore, pruneReleases, releaseIntact, sendObjects } from './objectStore.ts';
import { preflightRefusals, readDeviceFacts, serialTransferRefusal } from './preflight.ts';
import type { RemoteSteps } from './remoteSteps.ts';
import { holdsStable, restartUnit, unitLog } from './serviceControl.ts';
import type { GateFailure } from './agentGates.ts';

function switchActive(prefix: string, to: string, previous: string | null): string {
  return [
    'set -eu',
    `cd ${shellQuote(`${prefix}/models`)}`,
    previous === null ? 'rm -f previous' : `ln -sfn ${shellQuote(previous)} .previous.tmp && mv -T .previous.tmp previous`,
    `ln -sfn ${shellQuote(to)} .active.tmp && mv -T .active.tmp active`,
    'sync',
  ].join('\n');
}

/**
 * Keeps the bundle's manifest beside the model versions (shared/modelBundle.ts), so the
 * device can say which signed bundle its active model came from: the state backup class
 * holds it instead of the model files that bundle can deploy again.
 */
async function keepManifest(remote: RemoteSteps, prefix: string, manifest: ModelBundleManifest): Promise<void> {
  const path = installedModelManifestPath(`${prefix}/models`, manifest.version);
  const script = ['set -eu', `install -d -m 0755 ${shellQuote(`${prefix}/models/.manifests`)}`, `cat > ${shellQuote(`${path}.tmp`)}`, `mv -f ${shellQuote(`${path}.tmp`)} ${shellQuote(path)}`].join('\n');
  await remote.must('install', script, `Keeping the manifest of model ${manifest.version} (backups name the model by it)`, { sudo: true, stdin: `${JSON.stringify(manifest, null, 2)}\n` });
}

async function healthCommandPasses(remote: RemoteSteps, step: string, command: string, untilMs: number): Promise<AppError | null> {
  // The service may need a moment to load the model: retry until the window closes.
  for (;;) {
    const result = await remote.run(step, command, { timeoutMs: 60_000 });
    if (result.code === 0) return null;
    if (Date.now() + 1000 > untilMs) {
      const output = (result.stdout.toString('utf8') + result.stderr.toString('utf8')).trim().split('\n').slice(-2).join(' ');
      return appError('UNAVAILABLE', `The model's health command failed (exit ${String(result.code)}): ${output || 'no output'}.`, 'Read the inference service log lines below; the model may not load on this device.');
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function modelGates(ctx: DeployContext, manifest: ModelBundleManifest, baseline: number, restartedAt: number): Promise<GateFailure | null> {
  const until = restartedAt + ctx.stableSeconds * 1000;
  if (manifest.install.health_command !== null) {
    const failed = await healthCommandPasses(ctx.remote, 'gate', manifest.install.health_command, until);
    if (failed !== null) return { gate: 'inference-service', error: failed };
  }
  const unstable = await holdsStable(ctx.remote, 'gate', manifest.install.service, baseline, until);
  return unstable === null ? null : { gate: 'service-stable', error: unstable };
}

export async function deployModelBundle(ctx: DeployContext, manifest: ModelBundleManifest): Promise<DeployResult> {
  const { remote, result } = ctx;
  const prefix = ctx.prefix ?? manifest.install.prefix;
  const service = manifest.install.service;

  ctx.progress('preflight');
  const facts = await readDeviceFacts(remote, { prefix, unit: service, unitPath: `/etc/systemd/system/${service}` });
  result.fromVersion = facts.activeModel;
  remote.note('preflight', 'device facts', `${facts.machine}, ${facts.osPretty}, init ${facts.init}, sudo ${facts.sudo ? 'yes' : 'no'}, ${String(facts.freeKb)} KiB free on ${facts.freeOn}, active model ${facts.activeModel ?? 'none'}, ${service} ${facts.unitLoadState}/${facts.unitActive}, ${String(facts.objects.size)} objects`);
  const toSend = missingObjects(manifest.files, facts.objects);
  const refusals = preflightRefusals(facts, { arch: null, bytesNeeded: toSend.reduce((sum, f) => sum + f.size, 0), prefix, modelService: service });
  const slow = refusals.length === 0 ? await serialTransferRefusal(remote, toSend.reduce((sum, f) => sum + f.size, 0), ctx.maxTransferSeconds) : null;
  if (slow !== null) refusals.push(slow);
  if (refusals.length > 0) return ctx.finish('refused', combineRefusals(refusals));

  if (facts.activeModel === manifest.version && facts.unitActive === 'active' && (await releaseIntact(remote, `${prefix}/models/${manifest.version}`, manifest.files))) {
    remote.note('check', `model ${manifest.version} is active, intact and ${service} is running: nothing changed`);
    return ctx.finish('unchanged', null);
  }

  await prepareStore(remote, prefix);
  await sendObjects(remote, { prefix, files: toSend, cache: ctx.cache, stallMs: ctx.stallMs, sent: result, signal: ctx.signal, onProgress: ctx.onProgress });
  ctx.progress('install');
  const inUse = [facts.activeModel, facts.previousModel].filter((v): v is string => v !== null && v !== manifest.version);
  await assembleRelease(remote, { prefix, folder: 'models', version: manifest.version, files: manifest.files, inUse });
  await keepManifest(remote, prefix, manifest);

  ctx.progress('switch');
  const previous = facts.activeModel !== null && facts.activeModel !== manifest.version ? facts.activeModel : facts.previousModel;
  await remote.must('switch', switchActive(prefix, manifest.version, previous), `Switching models/active to ${manifest.version}`, { sudo: true });
  ctx.progress('restart');
  const restartedAt = Date.now();
  const state = await restartUnit(remote, 'restart', service);

  ctx.progress('gate');
  const failure = await modelGates(ctx, manifest, state.nRestarts, restartedAt);
  if (failure === null) {
    await pruneReleases(remote, { prefix, folder: 'models', keep: ctx.keepReleases, protect: [manifest.version, ...(previous === null ? [] : [previous])] });
    return ctx.finish('updated', null);
  }

  result.gateFailed = failure.gate;
  result.unitLog = await unitLog(remote, 'gate', service);
  ctx.progress('rollback');
  if (previous === null) {
    await remote.run('rollback', `systemctl stop ${shellQuote(service)}; rm -f ${shellQuote(`${prefix}/models/active`)}`, { sudo: true });
    return ctx.finish('failed', appError(failure.error.code, `Model ${manifest.version} failed its ${failure.gate} gate: ${failure.error.message} There was no earlier model to return to, so ${service} was stopped.`, failure.error.hint));
  }
  try {
    await remote.must('rollback', switchActive(prefix, previous, facts.previousModel === previous ? null : facts.previousModel), `Switching models/active back to ${previous}`, { sudo: true });
    const back = Date.now();
    const restarted = await restartUnit(remote, 'rollback', service);
    const unstable = await holdsStable(remote, 'rollback', service, restarted.nRestarts, back + Math.min(ctx.stableSeconds, 3) * 1000);
    if (unstable !== null) throw new FieldkitError(unstable);
  } catch (error) {
    const reason = error instanceof FieldkitError ? error.appError.message : String(error);
    return ctx.finish('failed', appError('UNAVAILABLE', `Model ${manifest.version} failed its ${failure.gate} gate (${failure.error.message}), and going back to ${previous} failed too: ${reason}`, 'The device needs attention: read the transcript and the service log.'));
  }
  return ctx.finish('rolled-back', appError(failure.error.code, `Model ${manifest.version} failed its ${failure.gate} gate: ${failure.error.message} Model ${previous} is active again and ${service} is running.`, failure.error.hint));
}
