/**
 * One device, the agent bundle: preflight, send what the device lacks, assemble
 * `<prefix>/releases/<version>`, switch `current` atomically, install the unit, restart,
 * health gate — and on a failed gate, back to the previous release, restarted and
 * confirmed healthy. The journal and config are never touched by an upgrade or rollback.
 */
import path from 'node:path';
import type { AgentBundleManifest, BundleFile } from '../../shared/agentBundle.ts';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { helloWithRetry, runAgentGates, type AgentPaths, type GateFailure } from './agentGates.ts';
import { armGuard, clockTime, disarmGuard, guardSeconds, type ArmedGuard } from './deviceGuard.ts';
import type { DeployContext, DeployResult } from './deployTypes.ts';
import type { RemoteSteps } from './remoteSteps.ts';
import { assembleRelease, missingObjects, prepareStore, pruneReleases, releaseIntact, sendObjects } from './objectStore.ts';
import { preflightRefusals, readDeviceFacts, serialTransferRefusal } from './preflight.ts';
import { holdsStable, restartUnit, unitLog } from './serviceControl.ts';

/** `systemd/<name>.service` in the bundle: the unit it installs. */
function unitFileOf(files: readonly BundleFile[]): BundleFile {
  const unit = files.find((f) => /^systemd\/[A-Za-z0-9_.@-]+\.service$/.test(f.path));
  if (unit === undefined) {
    throw new FieldkitError(appError('BAD_REQUEST', 'The agent bundle has no systemd/*.service unit.', 'Rebuild the bundle with build/bundle-agent.ts.'));
  }
  return unit;
}

/** The unit as it will sit in /etc/systemd/system, its prefix rewritten when deploying elsewhere. */
function unitText(template: string, manifestPrefix: string, prefix: string): string {
  return manifestPrefix === prefix ? template : template.replaceAll(`${manifestPrefix}/`, `${prefix}/`).replaceAll(`${manifestPrefix}\n`, `${prefix}\n`);
}

/** Installs the unit of release `version` (from its copy on the device) and reloads systemd. */
function installUnitScript(ctx: { prefix: string; manifestPrefix: string; unitName: string; unitRelPath: string }, version: string): string {
  const source = shellQuote(`${ctx.prefix}/releases/${version}/${ctx.unitRelPath}`);
  const target = shellQuote(`/etc/systemd/system/${ctx.unitName}`);
  const dots = (p: string) => p.replaceAll('.', '\\.');
  const copy =
    ctx.manifestPrefix === ctx.prefix
      ? `install -m 0644 ${source} ${target}.tmp`
      : `sed -e ${shellQuote(`s|${dots(ctx.manifestPrefix)}/|${ctx.prefix}/|g`)} ${source} > ${target}.tmp && chmod 0644 ${target}.tmp`;
  return `${copy} && mv -f ${target}.tmp ${target} && systemctl daemon-reload && systemctl enable ${shellQuote(ctx.unitName)} 2>&1`;
}

/** Points `current` (and `previous`) by atomic renames of symlinks. */
function switchScript(prefix: string, to: string, previous: string | null): string {
  const p = shellQuote(prefix);
  return [
    'set -eu',
    `cd ${p}`,
    previous === null ? 'rm -f previous' : `ln -sfn ${shellQuote(`releases/${previous}`)} .previous.tmp && mv -T .previous.tmp previous`,
    `ln -sfn ${shellQuote(`releases/${to}`)} .current.tmp && mv -T .current.tmp current`,
    // The unit runs <prefix>/bin/fieldkit-agent (the layout of an unpacked bundle): a link into current.
    'if [ -L bin ] || [ ! -e bin ]; then ln -sfn current/bin .bin.tmp && mv -T .bin.tmp bin; fi',
    'sync',
  ].join('\n');
}

/** The service user named in the unit (`User=`), created if missing. */
function serviceUserOf(unit: string): string {
  return /^User=([a-z_][a-z0-9_-]*)$/m.exec(unit)?.[1] ?? 'root';
}

function setupScript(user: string, manifest: AgentBundleManifest, configJson: string): string {
  const u = shellQuote(user);
  const configPath = manifest.install.config_path;
  const configDir = path.posix.dirname(configPath);
  const lines = ['set -eu'];
  if (user !== 'root') {
    lines.push(`id -u ${u} >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${u}`);
    lines.push(`install -d -m 0750 -o ${u} -g ${u} ${shellQuote(configDir)} ${shellQuote(manifest.install.data_dir)}`);
  } else {
    lines.push(`install -d -m 0750 ${shellQuote(configDir)} ${shellQuote(manifest.install.data_dir)}`);
  }
  // Never overwrite a config: the device's identity and settings outlive every release.
  const tmp = shellQuote(`${configPath}.fieldkit-new`);
  lines.push(
    `if [ ! -e ${shellQuote(configPath)} ]; then printf %s ${shellQuote(Buffer.from(configJson).toString('base64'))} | base64 -d > ${tmp} && chown ${u}:${u} ${tmp} && chmod 0640 ${tmp} && mv ${tmp} ${shellQuote(configPath)}; echo "wrote ${configPath}"; else echo "kept ${configPath}"; fi`,
  );
  return lines.join('\n');
}

export async function deployAgentBundle(ctx: DeployContext, manifest: AgentBundleManifest, options: { config?: AgentConfigInput | undefined }): Promise<DeployResult> {
  const { remote, result } = ctx;
  const prefix = ctx.prefix ?? manifest.install.prefix;
  const unitFile = unitFileOf(manifest.files);
  const unitName = path.posix.basename(unitFile.path);
  const template = unitText(await ctx.readBundleFile(unitFile), manifest.install.prefix, prefix);
  const serviceUser = serviceUserOf(template);
  const paths: AgentPaths = { prefix, configPath: manifest.install.config_path, unit: unitName, serviceUser };
  const unitCtx = { prefix, manifestPrefix: manifest.install.prefix, unitName, unitRelPath: unitFile.path };

  // Preflight.
  ctx.progress('preflight');
  const facts = await readDeviceFacts(remote, { prefix, unit: unitName, unitPath: `/etc/systemd/system/${unitName}` });
  result.fromVersion = facts.currentVersion;
  remote.note('preflight', 'device facts', `${facts.machine}, ${facts.osPretty}, glibc ${facts.glibc}, init ${facts.init}, sudo ${facts.sudo ? 'yes' : 'no'}, ${String(facts.freeKb)} KiB free on ${facts.freeOn}, current ${facts.currentVersion ?? 'none'}, ${String(facts.objects.size)} objects, clock offset ${String(facts.clockOffsetMs)} ms`);
  const toSend = missingObjects(manifest.files, facts.objects);
  const bytesNeeded = toSend.reduce((sum, f) => sum + f.size, 0);
  const refusals = preflightRefusals(facts, { arch: manifest.arch, bytesNeeded, prefix, modelService: null });
  const slow = refusals.length === 0 ? await serialTransferRefusal(remote, toSend.reduce((sum, f) => sum + f.size, 0), ctx.maxTransferSeconds) : null;
  if (slow !== null) refusals.push(slow);
  if (refusals.length > 0) return ctx.finish('refused', combine(refusals));

  // Idempotent: the same version, intact, its unit installed and running: nothing to do.
  if (facts.currentVersion === manifest.version && facts.unitActive === 'active' && facts.unitSha256 === ctx.sha256(template)) {
    if (await releaseIntact(remote, `${prefix}/releases/${manifest.version}`, manifest.files)) {
      remote.note('check', `${manifest.version} is installed, intact and running: nothing changed`);
      return ctx.finish('unchanged', null);
    }
  }

  // Transfer and assemble.
  await prepareStore(remote, prefix);
  await sendObjects(remote, { prefix, files: toSend, cache: ctx.cache, stallMs: ctx.stallMs, sent: result, signal: ctx.signal, onProgress: ctx.onProgress });
  ctx.progress('install');
  const inUse = [facts.currentVersion, facts.previousVersion].filter((v): v is string => v !== null && v !== manifest.version);
  await assembleRelease(remote, { prefix, folder: 'releases', version: manifest.version, files: manifest.files, inUse });
  const configInput: AgentConfigInput = options.config ?? { device_id: 'unnamed', data_dir: manifest.install.data_dir };
  await remote.must('install', setupScript(serviceUser, manifest, JSON.stringify(configInput, null, 2) + '\n'), 'Creating the service user, config and data folders', { sudo: true });

  // Switch and restart, guarded: the device returns to `previous` by itself unless the
  // laptop confirms the new release healthy (deviceGuard.ts).
  ctx.progress('switch');
  const previous = facts.currentVersion !== null && facts.currentVersion !== manifest.version ? facts.currentVersion : facts.previousVersion;
  const olderPrevious = facts.previousVersion === previous ? null : facts.previousVersion;
  let guard: ArmedGuard | null = null;
  if (previous !== null) {
    guard = await armGuard(remote, {
      prefix,
      unit: unitName,
      version: manifest.version,
      previous,
      seconds: ctx.guardSeconds ?? guardSeconds(ctx.stableSeconds, remote.link.kind),
      revertScript: `${switchScript(prefix, previous, olderPrevious)}\n${installUnitScript(unitCtx, previous)}`,
    });
  } else {
    remote.note('switch', 'no device-side guard: there is no earlier release to return to');
  }
  let failure: GateFailure | null;
  try {
    await remote.must('switch', switchScript(prefix, manifest.version, previous), `Switching current to ${manifest.version}`, { sudo: true });
    await remote.must('switch', installUnitScript(unitCtx, manifest.version), `Installing ${unitName}`, { sudo: true });
    ctx.progress('restart');
    const restartedAt = Date.now();
    const state = await restartUnit(remote, 'restart', unitName);

    ctx.progress('gate');
    failure = await runAgentGates(remote, { paths, version: manifest.version, baselineRestarts: state.nRestarts, restartedAt, stableSeconds: ctx.stableSeconds });
    if (failure === null && guard !== null) {
      const fired = await disarmGuard(remote, 'gate', prefix, guard);
      if (fired !== null) return ctx.finish('failed', fired);
    }
  } catch (error) {
    const err = asAppError(error);
    if (guard === null || previous === null) throw error;
    if (err.code !== 'CANCELLED') return ctx.finish('failed', guardWillRevert(err, manifest.version, guard));
    failure = { gate: 'hello', error: err };
  }
  if (failure === null) {
    await pruneReleases(remote, { prefix, folder: 'releases', keep: ctx.keepReleases, protect: [manifest.version, ...(previous === null ? [] : [previous])] });
    return ctx.finish('updated', null);
  }

  return rollBackAfter(ctx, failure, { version: manifest.version, paths, unitCtx, previous, olderPrevious, guard });
}

/**
 * The new release failed a gate, or the deploy was cancelled after the switch: back to
 * `previous` (or the service stopped when there is none). Once begun it finishes even when the
 * deploy was cancelled: a device left between releases is worse than a cancel that takes a
 * few more seconds.
 */
async function rollBackAfter(
  ctx: DeployContext,
  failure: GateFailure,
  options: { version: string; paths: AgentPaths; unitCtx: Parameters<typeof installUnitScript>[0]; previous: string | null; olderPrevious: string | null; guard: ArmedGuard | null },
): Promise<DeployResult> {
  const { remote, result } = ctx;
  const { version, paths, unitCtx, previous, olderPrevious, guard } = options;
  const { prefix, unit: unitName } = paths;
  const cancelledNow = failure.error.code === 'CANCELLED';
  const steady = remote.uncancellable();
  ctx.progress('rollback');
  try {
    if (!cancelledNow) result.gateFailed = failure.gate;
    result.unitLog = await unitLog(steady, 'gate', unitName);
    if (previous === null) {
      await steady.run('rollback', `systemctl disable --now ${shellQuote(unitName)}; rm -f ${shellQuote(`${prefix}/current`)}`, { sudo: true });
      return ctx.finish(
        'failed',
        cancelledNow
          ? appError('CANCELLED', `The deploy of ${version} was cancelled after the switch; there was no earlier release to return to, so the service was stopped.`, 'Deploy again when ready.')
          : appError(failure.error.code, `${version} failed its ${failure.gate} gate: ${failure.error.message} There was no earlier release to return to, so the service was stopped.`, failure.error.hint),
      );
    }
    const back = await rollBackTo(ctx, steady, { paths, unitCtx, previous, olderPrevious });
    if (back !== null) {
      const what = cancelledNow ? `The deploy of ${version} was cancelled after the switch` : `${version} failed its ${failure.gate} gate (${failure.error.message})`;
      const guardNote = guard === null ? '' : ` The device-side guard stays armed and tries again at ${clockTime(guard.firesAt)}.`;
      return ctx.finish('failed', appError('UNAVAILABLE', `${what}, and going back to ${previous} failed too: ${back.message}${guardNote}`, 'The device needs attention: read the transcript and the unit log, then deploy a known-good version.'));
    }
    if (guard !== null) await disarmGuard(steady, 'rollback', prefix, guard);
  } catch (error) {
    if (guard === null) throw error;
    return ctx.finish('failed', guardWillRevert(asAppError(error), version, guard));
  }
  if (cancelledNow) {
    return ctx.finish('rolled-back', appError('CANCELLED', `The deploy of ${version} was cancelled after the switch: ${previous} was restored and is healthy.`, 'Deploy again when ready.'));
  }
  return ctx.finish('rolled-back', appError(failure.error.code, `${version} failed its ${failure.gate} gate: ${failure.error.message} ${previous} was restored and is healthy.`, failure.error.hint));
}

function asAppError(error: unknown): AppError {
  return error instanceof FieldkitError ? error.appError : appError('INTERNAL', error instanceof Error ? error.message : String(error), 'Read the transcript.');
}

/** What a deploy says when it lost the device after the switch: the guard finishes the job. */
function guardWillRevert(cause: AppError, version: string, guard: ArmedGuard): AppError {
  return appError(
    cause.code,
    `${cause.message} ${version} was switched in but not confirmed healthy: the device will return to ${guard.previous} by itself at ${clockTime(guard.firesAt)} (laptop clock) unless another deploy reaches it first (the guard does not survive a reboot of the device).`,
    `Check the device after ${clockTime(guard.firesAt)}: it should run ${guard.previous}. Deploy again once the link is steady.`,
  );
}

/** Switches back to `previous`, restarts it and confirms hello answers with it; null when healthy. */
async function rollBackTo(
  ctx: DeployContext,
  remote: RemoteSteps,
  options: { paths: AgentPaths; unitCtx: Parameters<typeof installUnitScript>[0]; previous: string; olderPrevious: string | null },
): Promise<AppError | null> {
  try {
    await remote.must('rollback', switchScript(options.paths.prefix, options.previous, options.olderPrevious), `Switching current back to ${options.previous}`, { sudo: true });
    await remote.must('rollback', installUnitScript(options.unitCtx, options.previous), `Reinstalling the unit of ${options.previous}`, { sudo: true });
    const restartedAt = Date.now();
    const state = await restartUnit(remote, 'rollback', options.paths.unit);
    const session = await helloWithRetry(remote, options.paths, 'rollback', 15_000);
    const version = session.hello.agent_version;
    await session.close();
    if (version !== options.previous) return appError('CONFLICT', `after the rollback the agent answered as ${version}, not ${options.previous}`, 'Read the transcript.');
    // A short hold: the old release must stay up, not just answer once.
    return await holdsStable(remote, 'rollback', options.paths.unit, state.nRestarts, restartedAt + Math.min(ctx.stableSeconds, 3) * 1000);
  } catch (error) {
    // The link itself dropping is not "the old release is unhealthy": the caller says what happens next.
    if (error instanceof FieldkitError && error.appError.code === 'UNAVAILABLE' && /dropped/.test(error.appError.message)) throw error;
    return asAppError(error);
  }
}

function combine(refusals: readonly AppError[]): AppError {
  const [first] = refusals;
  if (refusals.length === 1 && first !== undefined) return first;
  return appError(first?.code ?? 'CONFLICT', refusals.map((r) => r.message).join(' '), refusals.map((r) => r.hint).join(' '));
}

export { combine as combineRefusals };
