/**
 * `restic check --read-data-subset=k/n`: the structure of the whole repository, plus the
 * data of one slice (a full pass every n runs). A damaged pack is named with the snapshots
 * that hold data in it (restic find --pack), so the report says what is at risk.
 */
import { BackupClassSchema, type BackupClass } from '../../../shared/backupStream.ts';
import { ResticExitError, runRestic, type ResticRepo } from '../restic/resticProcess.ts';
import { FindPackSchema, parseResticJson } from '../restic/resticJson.ts';

export type CheckOutcome = {
  ok: boolean;
  errors: string[];
  damagedPacks: string[];
  /** Snapshots holding data in a damaged pack. */
  affectedSnapshots: string[];
};

const NOISE = /^(using temporary cache|create exclusive lock|load indexes|check all packs|check snapshots|read group|read all data|\[\d+:\d+\]|no errors were found|Fatal: repository contains errors)/;

export async function checkRepo(repo: ResticRepo, subset: { k: number; n: number }, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<CheckOutcome> {
  const lines: string[] = [];
  const onLine = (line: string) => {
    const progress = /(\d+) \/ (\d+) packs/.exec(line);
    if (progress) onProgress?.(Number(progress[1]), Number(progress[2]));
    if (!NOISE.test(line.trim())) lines.push(line.trim());
  };
  try {
    await runRestic({ repo, args: ['check', `--read-data-subset=${subset.k}/${subset.n}`], what: 'check the repository', signal, onLine, onStderrLine: onLine });
    return { ok: true, errors: [], damagedPacks: [], affectedSnapshots: [] };
  } catch (error) {
    // A repository restic cannot open (password, missing, locked) is not a check result: say that error.
    if (!(error instanceof ResticExitError) || !/repository contains errors/.test(error.failure.stderr)) throw error;
  }
  const damagedPacks = [...new Set(lines.flatMap((line) => [...line.matchAll(/(?:want|pack|Pack) ([0-9a-f]{64})/g)].map((m) => m[1] ?? '')))].filter(Boolean);
  const affected = new Set<string>();
  for (const pack of damagedPacks) {
    try {
      const { stdout } = await runRestic({ repo, args: ['find', '--no-lock', '--json', '--pack', pack], what: 'find the snapshots a damaged pack holds data of', signal });
      for (const hit of parseResticJson(stdout, FindPackSchema, 'find --pack')) affected.add(hit.snapshot);
    } catch {
      // The pack's own report stands without the snapshots it affects.
    }
  }
  return { ok: false, errors: lines.slice(0, 50), damagedPacks, affectedSnapshots: [...affected] };
}

/** The class of a fieldkit snapshot, from its one path `/<class>.tar`; null for anything else. */
export function classOfPaths(paths: readonly string[]): BackupClass | null {
  const match = /^\/([a-z]+)\.tar$/.exec(paths[0] ?? '');
  const parsed = BackupClassSchema.safeParse(match?.[1]);
  return paths.length === 1 && parsed.success ? parsed.data : null;
}
