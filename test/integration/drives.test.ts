import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Drive } from '../../shared/drives.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { addZramId, createZram, removeZram } from '../support/zram.ts';

/** drivelist against real block devices: zram devices look like removable drives. */
describe('drives', () => {
  const dir = makeTempDir();
  let services: AppServices;
  const changes: { at: number; drives: Drive[] }[] = [];

  beforeAll(async () => {
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test', watchDrives: true });
    services.events.subscribe((name, payload) => {
      if (name === 'drives.changed') changes.push({ at: Date.now(), drives: (payload as { drives: Drive[] }).drives });
    });
    await services.handlers['drives.list']({});
  });

  afterAll(async () => {
    await services.close();
    dir.remove();
  });

  function seenWithin(device: string, present: boolean, since: number): number | null {
    const hit = changes.find((c) => c.at >= since && c.drives.some((d) => d.device === device) === present);
    return hit ? hit.at - since : null;
  }

  it('reports a drive appearing and going within 2 s', async () => {
    const since = Date.now();
    const zram = createZram(128 * 1024 * 1024);
    await expect.poll(() => seenWithin(zram.device, true, since), { timeout: 2000, interval: 50 }).not.toBeNull();
    const listed = (await services.handlers['drives.list']({})).drives.find((d) => d.device === zram.device);
    expect(listed).toMatchObject({ flashable: true, isRemovable: true, sizeBytes: 128 * 1024 * 1024, isSystem: false });
    // The drive is gone when hot_remove succeeds; a prober may hold it busy a moment before that.
    await zram.remove();
    const gone = Date.now();
    await expect.poll(() => seenWithin(zram.device, false, gone), { timeout: 2000, interval: 50 }).not.toBeNull();
  });

  it('refuses a drive too small for the image, and the system drive', async () => {
    const zram = createZram(64 * 1024 * 1024);
    try {
      const { drives } = await services.handlers['drives.list']({ imageSizeBytes: 100 * 1024 * 1024 });
      const small = drives.find((d) => d.device === zram.device);
      expect(small?.flashable).toBe(false);
      expect(small?.refusals.map((r) => r.code)).toEqual(['TOO_SMALL']);
      for (const d of drives.filter((x) => x.isSystem)) expect(d.flashable).toBe(false);
      // The drive under the data folder (this machine's root disk) is refused as such.
      expect(drives.some((d) => d.refusals.some((r) => r.code === 'HOLDS_APP_DATA'))).toBe(true);
    } finally {
      await zram.remove();
    }
  });

  it('refuses a device that reports no size yet', async () => {
    const id = addZramId();
    try {
      const { drives } = await services.handlers['drives.list']({});
      expect(drives.find((d) => d.device === `/dev/zram${id}`)?.refusals.map((r) => r.code)).toEqual(['UNKNOWN_SIZE']);
    } finally {
      await removeZram(id);
    }
  });
});
