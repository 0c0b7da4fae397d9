/**
 * `slotUpdate`: an OS update of one A/B Pi over the network, the Raspberry Pi firmware's
 * tryboot way. Verify the signed image → preflight (board, bootloader, layout, active slot)
 * → write the inactive slot's boot and root partitions (slotWrite.ts, read back on the
 * device) → autoboot.txt gets a `[tryboot]` section → `reboot "0 tryboot"` → wait (bounded)
 * → the new slot must be the one booted, on trial, and healthy → commit by rewriting
 * autoboot.txt (temp file, flush, rename). Anything else: a plain reboot, which the
 * firmware answers with the committed slot, and the reason is reported. A rehearsal stops
 * short of the commit on purpose and confirms the device came back on its old slot.
 * The data partition is never written. Never throws for what happens on the device.
 */
import { randomBytes } from 'node:crypto';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../../shared/errors.ts';
import type { TranscriptEntry } from '../../../shared/deploy.ts';
import type { ImageManifest, ImagePartition, PartitionRole } from '../../../shared/image.ts';
import type { Slot, SlotUpdateOutcome, SlotUpdateStatus } from '../../../shared/slots.ts';
import { createRemoteSteps, type RemoteSteps } from '../remoteSteps.ts';
import { verifyImage, type VerifiedImage } from '../../kernel/image/verifyImage.ts';
import { readPartitionTableWith } from '../../kernel/image/partitionTable.ts';
import type { Link } from '../../kernel/link/linkApi.ts';
import type { MinisignPublicKey } from '../../kernel/signing/minisignFormat.ts';
import { autobootText, committedBootPartition, judgeBoard, parseAutoboot, partitionDevice } from './tryboot.ts';
import { writeSlot } from './slotWrite.ts';
import { agentBaseline, runSlotAgentGates, slotAgentPaths, type AgentBaseline } from './slotAgentGate.ts';
import type { AgentPaths } from '../agentGates.ts';

/** Where the Pi-side facts are; a real Pi's defaults, a virtual Pi's harness paths in tests. */
export type SlotPlatform = { deviceTreeDir: string; cmdlinePath: string; disk: string };
export const piPlatform: SlotPlatform = { deviceTreeDir: '/proc/device-tree', cmdlinePath: '/proc/cmdline', disk: '/dev/mmcblk0' };

export type SlotUpdateOptions = {
  /** Opens a link to the device; called again after each reboot. */
  openLink: () => Promise<Link>;
  imagePath: string;
  trustedKeys: readonly MinisignPublicKey[];
  rehearse?: boolean;
  /** How long a reboot may take before the device counts as not returned. */
  bootTimeoutMs: number;
  platform?: SlotPlatform;
  /** Where the fieldkit agent is installed (default: the agent bundle's layout); its gates run only when it is. */
  agentPaths?: AgentPaths;
  signal?: AbortSignal;
  onTranscript?: (entry: TranscriptEntry) => void;
  onProgress?: (phase: string, done: number, total: number) => void;
};

type DeviceState = { tryboot: boolean; bootPartition: number; autoboot: string; cmdline: string; model: string; bootloader: string | null; mtools: boolean };

const mtools = 'MTOOLS_SKIP_CHECK=1';
/**
 * One reconnect attempt while the device reboots: a connection caught by the old system as it
 * goes down can stall without an error, so each attempt is cut short and retried.
 */
const connectAttemptMs = 5000;

function slotOf(role: PartitionRole | undefined): Slot | null {
  if (role === 'boot_a') return 'a';
  if (role === 'boot_b') return 'b';
  return null;
}

async function readState(remote: RemoteSteps, platform: SlotPlatform, bootsel: number, step: string): Promise<DeviceState> {
  const dt = platform.deviceTreeDir;
  const u32 = (file: string) => `od -An -tu4 --endian=big ${dt}/chosen/bootloader/${file} 2>/dev/null | tr -d ' '`;
  const script = [
    `echo "model=$(tr -d '\\0' < ${dt}/model 2>/dev/null)"`,
    `echo "tryboot=$(${u32('tryboot')})"`,
    `echo "partition=$(${u32('partition')})"`,
    `echo "cmdline=$(cat ${platform.cmdlinePath} 2>/dev/null)"`,
    `echo "bootloader=$(vcgencmd bootloader_version 2>/dev/null | head -1)"`,
    `echo "mtools=$(command -v mtype >/dev/null && echo yes)"`,
    `echo "autoboot=$(sudo -n env ${mtools} mtype -i ${partitionDevice(platform.disk, bootsel)} ::autoboot.txt 2>/dev/null | base64 -w0)"`,
  ].join('; ');
  const out = (await remote.must(step, script, 'Reading the boot state')).split('\n');
  const field = (name: string) => out.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1).trim() ?? '';
  return {
    model: field('model'),
    tryboot: field('tryboot') === '1',
    bootPartition: Number(field('partition') || '0'),
    cmdline: field('cmdline'),
    bootloader: field('bootloader') || null,
    mtools: field('mtools') === 'yes',
    autoboot: Buffer.from(field('autoboot'), 'base64').toString('utf8'),
  };
}

/** Rewrites autoboot.txt on the FAT bootsel partition: a temp file, flushed, then renamed over the old one. */
async function writeAutoboot(remote: RemoteSteps, platform: SlotPlatform, bootsel: number, text: string, step: string): Promise<void> {
  const dev = partitionDevice(platform.disk, bootsel);
  const tmp = `/tmp/.fieldkit-autoboot-${randomBytes(4).toString('hex')}`;
  // No mount needed (and FAT may not be mountable in every kernel): mtools writes the
  // temp file, blockdev flushes it, mmove -D o replaces the old name in one directory write.
  const script = [`set -e`, `cat > ${tmp}`, `${mtools} mcopy -o -i ${dev} ${tmp} ::autoboot.new`, `sync`, `blockdev --flushbufs ${dev}`, `${mtools} mmove -D o -i ${dev} ::autoboot.new ::autoboot.txt`, `sync`, `blockdev --flushbufs ${dev}`, `rm -f ${tmp}`, `${mtools} mtype -i ${dev} ::autoboot.txt`].join('; ');
  const back = await remote.must(step, script, 'Rewriting autoboot.txt', { sudo: true, stdin: text });
  if (back.replace(/\r/g, '').trim() !== text.trim()) {
    throw new FieldkitError(appError('IO_ERROR', `autoboot.txt reads back differently after the rewrite: ${JSON.stringify(back)}.`, 'Check the card (it may be failing or read-only).'));
  }
}

/** The A/B partitions of an image's layout. */
type AbLayout = { bootsel: ImagePartition; boot: Record<Slot, ImagePartition>; root: Record<Slot, ImagePartition> };

function abLayout(manifest: ImageManifest): AbLayout | null {
  const role = (r: PartitionRole): ImagePartition | undefined => manifest.layout.partitions.find((p) => p.role === r);
  const bootsel = role('bootsel');
  const [bootA, bootB, rootA, rootB] = [role('boot_a'), role('boot_b'), role('root_a'), role('root_b')];
  if (bootsel === undefined || bootA === undefined || bootB === undefined || rootA === undefined || rootB === undefined) return null;
  return { bootsel, boot: { a: bootA, b: bootB }, root: { a: rootA, b: rootB } };
}

/** The link to the device across its reboots, and the transcript of everything done on it. */
type SlotSession = {
  readonly transcript: TranscriptEntry[];
  /** A transcript entry for what fieldkit itself concluded (no command ran). */
  note(step: string, text: string, output?: string): void;
  connect(): Promise<RemoteSteps>;
  closeLink(): Promise<void>;
};

function openSlotSession(options: SlotUpdateOptions): SlotSession {
  const transcript: TranscriptEntry[] = [];
  const onTranscript = (entry: TranscriptEntry) => {
    transcript.push(entry);
    options.onTranscript?.(entry);
  };
  let link: Link | null = null;
  return {
    transcript,
    note(step, text, output = '') {
      onTranscript({ at: Date.now(), step, command: text, exitCode: 0, output, durationMs: 0 });
    },
    async connect() {
      link = await options.openLink();
      return createRemoteSteps(link, { signal: options.signal, onTranscript });
    },
    async closeLink() {
      const open = link;
      link = null;
      if (open) await open.close().catch(() => undefined);
    },
  };
}

type SlotState = { imageVersion: string | null; fromSlot: Slot | null; toSlot: Slot | null; endSlot: Slot | null; bytesSent: number };

/** What every phase of one update shares. */
type SlotRun = { options: SlotUpdateOptions; platform: SlotPlatform; session: SlotSession; state: SlotState; manifest: ImageManifest; layout: AbLayout };

/** What preflight found: the committed boot partition, the slot running and the slot to write. */
type SlotPlan = { committed: number; fromSlot: Slot; toSlot: Slot; targetBoot: ImagePartition; targetRoot: ImagePartition; agent: AgentBaseline };

type Verdict = { status: SlotUpdateStatus; error?: AppError };

/** The partition of `manifest` the device booted from, as a slot (null: not a boot slot). */
function bootedSlot(manifest: ImageManifest, bootPartition: number): Slot | null {
  return slotOf(manifest.layout.partitions.find((p) => p.index === bootPartition)?.role);
}

/** The first partition of the image that is not where the device's partition table has it. */
async function layoutMismatch(steps: RemoteSteps, platform: SlotPlatform, manifest: ImageManifest): Promise<ImagePartition | undefined> {
  const table = await readPartitionTableWith(async (offset, length) => {
    const r = await steps.must('preflight', `dd if=${platform.disk} bs=512 iflag=skip_bytes,count_bytes skip=${String(offset)} count=${String(length)} status=none | base64 -w0`, 'Reading the partition table', { sudo: true });
    return Buffer.from(r.trim(), 'base64');
  }, platform.disk);
  return manifest.layout.partitions.find((p) => {
    const dev = table.partitions.find((d) => d.index === p.index);
    return dev === undefined || dev.start !== p.start || dev.size !== p.size;
  });
}

/** 2. What can and may be done on this device: the plan, or why not. */
async function preflight(run: SlotRun, steps: RemoteSteps): Promise<{ ok: true; plan: SlotPlan } | { ok: false; message: string; hint: string }> {
  const { manifest, state } = run;
  const before = await readState(steps, run.platform, run.layout.bootsel.index, 'preflight');
  const where = steps.link.describe;
  const board = judgeBoard(before.model, before.bootloader);
  const refuse = (message: string, hint: string) => ({ ok: false as const, message, hint });
  if (!board.ok) return refuse(`${where} cannot boot A/B slots: ${board.reason}.`, board.board === 'pi4' || board.board === 'cm4' || board.board === 'pi400' ? 'Update the EEPROM (sudo rpi-eeprom-update -a, then reboot) and try again.' : 'Flash this device instead; tryboot A/B needs a Pi 4 family or Pi 5 family board.');
  if (board.board !== null && !manifest.boards.includes(board.board)) return refuse(`${manifest.product} ${manifest.version} is not made for ${board.board} (it lists ${manifest.boards.join(', ')}).`, 'Pick the image built for this board.');
  if (!before.mtools) return refuse(`${where} has no mtools (mtype, mcopy), needed to rewrite autoboot.txt without mounting.`, 'Install it on the device (sudo apt install mtools) or use an image that includes it.');
  const committed = committedBootPartition(parseAutoboot(before.autoboot));
  if (committed === null) return refuse(`autoboot.txt on ${where} does not do tryboot A/B: ${JSON.stringify(before.autoboot)}.`, 'This device was not flashed with an A/B image; flash one first.');
  // Still flagged tryboot after a commit is fine (the flag lasts until the next boot); a trial that was never committed is not.
  if (before.tryboot && before.bootPartition !== committed) return refuse(`${where} is running an uncommitted trial boot (partition ${String(before.bootPartition)}).`, 'Reboot it so it returns to its committed slot, then try again.');
  if (!before.tryboot && before.bootPartition !== committed) return refuse(`${where} runs boot partition ${String(before.bootPartition)}, but autoboot.txt commits ${String(committed)}.`, 'Reboot it and check autoboot.txt before updating.');
  const mismatch = await layoutMismatch(steps, run.platform, manifest);
  if (mismatch !== undefined) return refuse(`The disk of ${where} is laid out differently from the image: partition ${String(mismatch.index)} (${mismatch.role}) is not at byte ${String(mismatch.start)} with ${String(mismatch.size)} bytes.`, 'A slot update only replaces slots of the same layout: flash this device with the image instead.');
  const fromSlot = bootedSlot(manifest, before.bootPartition);
  state.fromSlot = fromSlot;
  if (fromSlot === null) return refuse(`Boot partition ${String(before.bootPartition)} is not a boot slot in the image's layout.`, 'Reboot the device into its A or B slot, then try again.');
  const toSlot = fromSlot === 'a' ? 'b' : 'a';
  state.toSlot = toSlot;
  state.endSlot = fromSlot;
  const targetBoot = run.layout.boot[toSlot];
  const targetRoot = run.layout.root[toSlot];
  const agent = await agentBaseline(steps, run.options.agentPaths ?? slotAgentPaths);
  run.session.note('preflight', `${board.reason}; running slot ${fromSlot} (boot partition ${String(before.bootPartition)}, committed); writing slot ${toSlot} (partitions ${String(targetBoot.index)}, ${String(targetRoot.index)})`);
  return { ok: true, plan: { committed, fromSlot, toSlot, targetBoot, targetRoot, agent } };
}

/** 4. After the trial reboot: the new slot must be the one booted, on trial, and healthy. Null when it is; else why not. */
async function judgeTrial(run: SlotRun, trial: RemoteSteps, plan: SlotPlan): Promise<AppError | null> {
  const on = await readState(trial, run.platform, run.layout.bootsel.index, 'check');
  run.state.endSlot = bootedSlot(run.manifest, on.bootPartition);
  if (!on.tryboot || on.bootPartition !== plan.targetBoot.index) {
    return appError('IO_ERROR', `After reboot "0 tryboot" the device runs boot partition ${String(on.bootPartition)} (tryboot flag ${on.tryboot ? 'set' : 'not set'}), not the new slot's ${String(plan.targetBoot.index)}: the firmware did not boot it.`, 'The new slot did not start; the device is on its committed slot. Check the image\'s boot partition (config.txt, kernel).');
  }
  const unhealthy = await healthGate(run, trial, plan);
  if (unhealthy !== null) return unhealthy;
  const agentFailure = await runSlotAgentGates(trial, run.options.agentPaths ?? slotAgentPaths, plan.agent, `Not committed: the device was rebooted back to slot ${plan.fromSlot}. Check the agent on the new image (its unit, /opt and the data partition's journal) on a test device.`);
  return agentFailure?.error ?? null;
}

/** 5a. Not committing (the trial failed, or a rehearsal): a plain reboot, and the firmware boots the committed slot. */
async function rollBack(run: SlotRun, trial: RemoteSteps, plan: SlotPlan, failure: AppError | null): Promise<Verdict> {
  const { state, platform } = run;
  const back = await rebootAndWait(run, trial, 'reboot', 'rollback');
  if (back === null) {
    state.endSlot = null;
    return { status: 'not-returned', error: appError('TIMEOUT', `${failure === null ? 'After the rehearsal' : `The trial failed (${failure.message}) and`} the device did not answer within ${String(Math.round(run.options.bootTimeoutMs / 1000))} s of its reboot back to slot ${plan.fromSlot}.`, 'Power-cycle it: it boots its committed slot. Then check it answers.') };
  }
  const after = await readState(back, platform, run.layout.bootsel.index, 'rollback');
  state.endSlot = bootedSlot(run.manifest, after.bootPartition);
  if (after.tryboot || after.bootPartition !== plan.committed) {
    return { status: 'failed', error: appError('IO_ERROR', `After the reboot the device runs boot partition ${String(after.bootPartition)}${after.tryboot ? ' on trial' : ''}, not its committed ${String(plan.committed)}.`, 'Check autoboot.txt on the device; power-cycle it.') };
  }
  // The [tryboot] section is harmless (used only on request) but clearer gone.
  await writeAutoboot(back, platform, run.layout.bootsel.index, autobootText(plan.committed), 'rollback');
  if (failure !== null) return { status: 'rolled-back', error: failure };
  run.session.note('rollback', `Rehearsal: the new slot ${plan.toSlot} booted on trial and passed the health gate; not committed; the device is back on slot ${plan.fromSlot}`);
  return { status: 'rehearsed' };
}

/** Reboots, waits for the device to go and come back; null when it did not come back in time. */
async function rebootAndWait(run: SlotRun, steps: RemoteSteps, command: string, step: string): Promise<RemoteSteps | null> {
  const { options, session } = run;
  const marker = `/run/fieldkit-slot-${randomBytes(6).toString('hex')}`;
  await steps.must(step, `touch ${marker}`, 'Marking this boot', { sudo: true });
  // The link drops while the command runs: whatever it reports is not a failure.
  await steps.run(step, `sh -c '(sleep 1; ${command}) >/dev/null 2>&1 &'`, { sudo: true, timeoutMs: 10_000 }).catch(() => undefined);
  await session.closeLink();
  const started = Date.now();
  const deadline = started + options.bootTimeoutMs;
  // The reboot starts a second after the command; give it that before the first attempt.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  while (Date.now() < deadline) {
    if (options.signal?.aborted === true) throw new FieldkitError(appError('CANCELLED', 'The slot update was cancelled while the device rebooted.', 'Check which slot it runs; a reset returns it to its committed slot.'));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let next: RemoteSteps;
    try {
      next = await Promise.race([
        session.connect(),
        new Promise<never>((_resolve, reject) => {
          setTimeout(() => { reject(new Error('connect timed out')); }, Math.max(1000, Math.min(connectAttemptMs, deadline - Date.now()))).unref();
        }),
      ]);
    } catch {
      await session.closeLink();
      continue;
    }
    // /run is empty after a boot: the marker still there means it has not rebooted yet.
    const r = await next.run(step, `test -e ${marker} && echo same || echo rebooted`, { timeoutMs: 10_000 }).catch(() => null);
    if (r?.stdout.toString().trim() === 'rebooted') {
      session.note(step, `The device is back after ${String(Math.round((Date.now() - started) / 1000))} s`);
      return next;
    }
    await session.closeLink();
  }
  session.note(step, `The device did not answer within ${String(Math.round(options.bootTimeoutMs / 1000))} s`, '', );
  return null;
}

/** Services up (no failed unit). Null when healthy. */
async function healthGate(run: SlotRun, steps: RemoteSteps, plan: SlotPlan): Promise<AppError | null> {
  const r = await steps.run('gate', 'timeout 60 systemctl is-system-running --wait; systemctl --failed --plain --no-legend | cut -d" " -f1', { timeoutMs: 70_000 });
  const lines = r.stdout.toString().trim().split('\n').filter((l) => l !== '');
  const stateLine = lines[0] ?? '';
  const failed = lines.slice(1);
  if (stateLine === 'running' && failed.length === 0) {
    run.session.note('gate', 'Every unit is up on the new slot');
    return null;
  }
  return appError('IO_ERROR', `The new slot ${plan.toSlot} booted but is unhealthy: the system is ${stateLine || 'unknown'}${failed.length > 0 ? `; failed units: ${failed.join(', ')}` : ''}.`, `Not committed: the device was rebooted back to slot ${plan.fromSlot}. Fix the image (see the failed units' logs on a test device) and try again.`);
}

export async function slotUpdate(options: SlotUpdateOptions): Promise<SlotUpdateOutcome> {
  const began = performance.now();
  const session = openSlotSession(options);
  const state: SlotState = { imageVersion: null, fromSlot: null, toSlot: null, endSlot: null, bytesSent: 0 };
  const finish = (status: SlotUpdateStatus, error?: AppError): SlotUpdateOutcome => ({
    status,
    ...state,
    durationMs: Math.round(performance.now() - began),
    ...(error === undefined ? {} : { error }),
    transcript: session.transcript,
  });

  // 1. The image, before any byte goes anywhere.
  let verified: VerifiedImage;
  try {
    options.onProgress?.('verify', 0, 1);
    verified = await verifyImage(options.imagePath, { trustedKeys: options.trustedKeys });
    const imageName = `${verified.manifest.product} ${verified.manifest.version}`;
    state.imageVersion = imageName;
    session.note('verify', `Verified ${options.imagePath}: ${imageName}, signed by a trusted key`);
  } catch (error) {
    return finish('refused', isFieldkitError(error) ? error.appError : appError('INTERNAL', String(error), 'Report this.'));
  }
  const { manifest } = verified;
  const layout = abLayout(manifest);
  if (layout === null) {
    return finish('refused', appError('BAD_REQUEST', `${manifest.product} ${manifest.version} has no A/B layout (bootsel, boot_a/b, root_a/b).`, 'Slot updates need an A/B image; flash this one instead.'));
  }
  const run: SlotRun = { options, platform: options.platform ?? piPlatform, session, state, manifest, layout };

  let phase = 'preflight';
  try {
    const steps = await session.connect();
    const preflighted = await preflight(run, steps);
    if (!preflighted.ok) return finish('refused', appError('BAD_REQUEST', preflighted.message, preflighted.hint));
    const { plan } = preflighted;

    // 3. The inactive slot.
    phase = 'write';
    const written = await writeSlot({ remote: steps, imagePath: options.imagePath, verified, disk: run.platform.disk, parts: [plan.targetBoot, plan.targetRoot], onProgress: (done, total) => options.onProgress?.('write', done, total) });
    state.bytesSent = written.bytesSent;

    // 4. Trial boot: [tryboot] points at the new slot, used once after reboot "0 tryboot".
    phase = 'trial';
    await writeAutoboot(steps, run.platform, layout.bootsel.index, autobootText(plan.committed, plan.targetBoot.index), 'tryboot');
    const trial = await rebootAndWait(run, steps, 'reboot "0 tryboot"', 'tryboot');
    if (trial === null) {
      state.endSlot = null;
      return finish('not-returned', appError('TIMEOUT', `${manifest.product} ${manifest.version} was booted on trial, but the device did not answer within ${String(Math.round(options.bootTimeoutMs / 1000))} s.`, 'Power-cycle the device: the trial boot is one-shot, so it comes back on its committed slot. Then look at the new image (its kernel or network may not come up).'));
    }
    const failure = await judgeTrial(run, trial, plan);
    if (failure !== null || options.rehearse === true) {
      phase = 'rollback';
      const verdict = await rollBack(run, trial, plan, failure);
      return finish(verdict.status, verdict.error);
    }
    // 5b. Commit.
    phase = 'commit';
    await writeAutoboot(trial, run.platform, layout.bootsel.index, autobootText(plan.targetBoot.index), 'commit');
    session.note('commit', `Committed slot ${plan.toSlot}: autoboot.txt boots partition ${String(plan.targetBoot.index)}`);
    return finish('committed');
  } catch (error) {
    if (isFieldkitError(error)) return finish(error.appError.code === 'CANCELLED' ? 'failed' : phase === 'preflight' ? 'refused' : 'failed', error.appError);
    return finish('failed', appError('INTERNAL', `${phase}: ${(error as Error).message}`, 'Report this with the transcript.'));
  } finally {
    await session.closeLink();
  }
}
