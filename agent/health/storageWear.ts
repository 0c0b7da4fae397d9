/**
 * Storage wear: eMMC life time and pre-EOL from sysfs, NVMe smart-log from `nvme`. Wear
 * changes over months, so each is read at most once a minute; a slow NVMe drive is read
 * behind the cached value and never delays a sample.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthSample } from '../../shared/health.ts';
import { parseEmmcLifeTime, parseEmmcPreEol, parseNvmeSmartLog, type NvmeSmart } from './procSysParsers.ts';
import type { RunCommand } from './runCommand.ts';
import { readText } from './sysText.ts';

const SLOW_REFRESH_MS = 60_000;
const NVME_TIMEOUT_MS = 5_000;
const NVME_DEVICE = 'nvme0';
const EMMC_DEVICE = 'mmcblk0';

export type EmmcWearReader = { read: () => HealthSample['emmc'] };

export function createEmmcWearReader(sysRoot: string, now: () => number): EmmcWearReader {
  let emmc: HealthSample['emmc'] = null;
  let emmcReadAt = -Infinity;

  function read(): HealthSample['emmc'] {
    // The kernel reads EXT_CSD once at card init; these files change only across boots.
    if (now() - emmcReadAt < SLOW_REFRESH_MS) return emmc;
    emmcReadAt = now();
    const dir = join(sysRoot, 'block', EMMC_DEVICE, 'device');
    const lifeText = readText(join(dir, 'life_time'));
    const eolText = readText(join(dir, 'pre_eol_info'));
    // An SD card has neither file: no eMMC wear to report.
    if (lifeText === null && eolText === null) {
      emmc = null;
      return emmc;
    }
    const life = lifeText === null ? null : parseEmmcLifeTime(lifeText);
    emmc = {
      device: EMMC_DEVICE,
      life_time_a: life?.a ?? null,
      life_time_b: life?.b ?? null,
      pre_eol_info: eolText === null ? null : parseEmmcPreEol(eolText),
    };
    return emmc;
  }

  return { read };
}

export type NvmeWearReader = { read: () => Promise<HealthSample['nvme']> };

/** `tool` null means the config says there is no nvme tool. */
export function createNvmeWearReader(tool: string | null, sysRoot: string, run: RunCommand, now: () => number): NvmeWearReader {
  let nvme: HealthSample['nvme'] = null;
  let nvmeReadAt = -Infinity;
  let nvmeRefresh: Promise<void> | null = null;
  let nvmeEverRead = false;

  async function refresh(path: string): Promise<void> {
    try {
      const smart: NvmeSmart | null = parseNvmeSmartLog(
        await run(path, ['smart-log', '-o', 'json', `/dev/${NVME_DEVICE}`], { timeoutMs: NVME_TIMEOUT_MS }),
      );
      nvme = smart === null ? null : { device: NVME_DEVICE, ...smart };
    } catch {
      nvme = null;
    } finally {
      nvmeEverRead = true;
    }
  }

  async function read(): Promise<HealthSample['nvme']> {
    if (tool === null) return null;
    if (nvmeRefresh === null && now() - nvmeReadAt >= SLOW_REFRESH_MS) {
      nvmeReadAt = now();
      if (!existsSync(tool) || !existsSync(join(sysRoot, 'class', 'nvme', NVME_DEVICE))) {
        nvme = null;
        return nvme;
      }
      const refreshing = refresh(tool).finally(() => {
        nvmeRefresh = null;
      });
      nvmeRefresh = refreshing;
      // Only the first reading waits; later ones refresh behind the cached value, so a
      // slow drive never delays the 1 Hz sample.
      if (!nvmeEverRead) await refreshing;
    }
    return nvme;
  }

  return { read };
}
