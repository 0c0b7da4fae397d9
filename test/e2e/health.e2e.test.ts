import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thermalZoneFile, writeMillidegrees } from '../../electron/demo/demoThermal.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { HEALTH_DB_FILE, openHealthHistoryWriter, readHealthHistory } from '../../agent/health/healthHistory.ts';

const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;

/**
 * Live health end to end: the demo site's three real agents sampling each second over
 * their local links, the health service, the web host and Chromium. One agent's sysfs
 * thermal zone is pointed at 86 °C and its tile must turn critical within 2 s.
 */
describe('Health screen in Chromium', () => {
  let app: AppInBrowser;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    app = await openAppInBrowser({ demo: true });
    ({ page, pageErrors } = app);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  afterAll(async () => {
    await app.close();
  });

  const tile = (name: string): Locator => page.locator(`[data-testid="health-tile"]`).filter({ has: page.getByRole('button', { name: `Open ${name}`, exact: true }) });
  /** Screenshots show the screen, not the jobs drawer. */
  const shoot = async (file: string): Promise<void> => {
    const hide = page.getByRole('button', { name: 'Hide', exact: true });
    if ((await hide.count()) > 0) await hide.click();
    await page.screenshot({ path: app.shot(file) });
  };

  it('shows one tile per demo device with its live figures', async () => {
    await page.keyboard.press('Alt+5');
    await page.getByRole('heading', { name: 'Health', level: 1 }).waitFor();
    for (const name of demoDevices) await tile(name).waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('health-tile').count()).toBe(3);
    for (const name of demoDevices) {
      // A first sample arrives over the link: temperature from the demo thermal zone, versions, last seen.
      await expect.poll(() => tile(name).getByTestId('tile-temp').textContent(), { timeout: 20_000 }).toMatch(/^\d+\.\d °C$/);
      const text = await tile(name).textContent();
      expect(text).toContain('agent ');
      expect(text).toContain('yolo-v8n-2026.10');
      expect(await tile(name).getByTestId('tile-backlog').textContent()).toMatch(/^[\d,]+$/);
      expect(await tile(name).getAttribute('data-status')).toBe('ok');
      await expect.poll(() => tile(name).getByTestId('tile-seen').textContent()).toMatch(/^[0-3] s ago$/);
    }
  });

  it('turns a tile critical within 2 s of its thermal zone reading 86 °C, worst first, with the alert', async () => {
    const hot = 'demo-pi-03';
    const file = thermalZoneFile(join(app.dataDir, 'demo', hot, 'sys'));
    const started = Date.now();
    writeMillidegrees(file, 86);
    await expect.poll(() => tile(hot).getAttribute('data-status'), { timeout: 2000, interval: 50 }).toBe('critical');
    const tookMs = Date.now() - started;
    expect(tookMs).toBeLessThanOrEqual(2000);
    await expect.poll(() => tile(hot).getByTestId('tile-alerts').textContent()).toContain('86 °C — critical');
    expect(await tile(hot).getByTestId('tile-temp').textContent()).toBe('86.0 °C');
    // Worst first: the critical tile leads the grid.
    expect(await page.getByTestId('health-tile').first().getAttribute('data-device-id')).toBe(await tile(hot).getAttribute('data-device-id'));
    expect(await page.getByTestId('fleet-summary').textContent()).toContain('1 critical');
    await shoot('health-grid.png');
  });

  it('opens the device page: the alert with what to do, per-second charts, the history pulled with the journal', async () => {
    // A courier pull carries the agent's health history home (the 86 °C moment among its events).
    const { services } = app;
    const { devices } = await services.handlers['devices.list']({});
    const id = devices.find((d) => d.name === 'demo-pi-03')?.id;
    if (id === undefined) throw new Error('demo-pi-03 is not registered');
    expect((await services.handlers['health.history']({ deviceId: id })).pulledAtMs).toBeNull();
    // The daemon's own 1 Hz sampler (not the one that fed the tile) must have recorded the hot moment before the pull.
    const historyFile = join(app.dataDir, 'demo', 'demo-pi-03', 'data', HEALTH_DB_FILE);
    await expect.poll(() => readHealthHistory(historyFile, 0).events.some((e) => e.kind === 'temp_high'), { timeout: 10_000, interval: 100 }).toBe(true);
    // The daemon writes a minute of history when a minute ends; so soon after the demo started
    // there may be none yet. One minute, as the daemon would write it, is the case the chart
    // must draw (it drew an empty chart on an axis from 2027 to 2029).
    if (readHealthHistory(historyFile, 0).minutes.length === 0) {
      const writer = openHealthHistoryWriter(historyFile);
      writer.writeMinute({ minute_ms: Math.floor(Date.now() / 60_000) * 60_000 - 60_000, cpu_pct_avg: 14, temp_c_max: 86, mem_available_min_bytes: 3e9, disk_free_min_bytes: 20e9, throttled_raw_or: 0, backlog_records_max: 12, inference_p95_ms: 30 });
      writer.close();
    }
    const { jobId } = await services.handlers['courier.pull']({ id });
    await expect.poll(async () => (await services.handlers['jobs.get']({ jobId })).job.state, { timeout: 30_000 }).toBe('done');

    await tile('demo-pi-03').getByRole('button', { name: 'Open demo-pi-03' }).click();
    const device = page.getByTestId('device-health');
    await device.waitFor();
    const alert = device.locator('[data-alert="temp-critical"]');
    await alert.waitFor();
    const alertText = await alert.textContent();
    expect(alertText).toContain('86 °C — critical');
    expect(alertText).toContain('at or above the critical 85 °C');
    expect(alertText).toContain('What to do: Check the fan and heatsink');
    // Seven uPlot charts, drawing on canvas; the temperature chart shows the newest value.
    expect(await device.locator('.health-chart canvas').count()).toBe(7);
    await expect.poll(() => device.locator('[data-chart="temp"] .chart-latest').textContent(), { timeout: 5000 }).toContain('86 °C');
    // The charts keep being fed from health.changed: seconds later they draw more points.
    const points = async (): Promise<number> => Number(await device.locator('[data-chart="cpu"] .uplot').getAttribute('data-points'));
    const before = await points();
    expect(before).toBeGreaterThan(0);
    await expect.poll(points, { timeout: 5000 }).toBeGreaterThanOrEqual(before + 2);
    const events = device.getByTestId('health-events');
    await events.waitFor({ timeout: 10_000 });
    const eventText = await events.textContent();
    expect(eventText).toMatch(/Temperature high at \d\d:\d\d/);
    expect(eventText).toMatch(/Agent started at \d\d:\d\d/);
    expect(await device.getByTestId('health-history').textContent()).toContain('Last pulled');
    // A few more seconds of points, so the screenshot shows lines rather than dots.
    await expect.poll(points, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 5);
    // The history pulled moments after the demo started holds a minute or two: a dot in a window
    // of a quarter of an hour around it, not an empty chart on an axis spanning years.
    const history = device.getByTestId('history-chart');
    await history.locator('canvas').waitFor();
    expect(Number(await history.getAttribute('data-minutes'))).toBeGreaterThan(0);
    const historyRoot = history.locator('.uplot');
    const historySpan = Number(await historyRoot.getAttribute('data-x-max')) - Number(await historyRoot.getAttribute('data-x-min'));
    expect(historySpan).toBeGreaterThanOrEqual(15 * 60);
    expect(historySpan).toBeLessThan(3 * 3600);
    // Hovering a chart says the time and the value there, with its unit.
    const tempChart = device.locator('[data-chart="temp"] .u-over');
    const tempBox = await tempChart.boundingBox();
    await tempChart.hover({ position: { x: (tempBox?.width ?? 100) - 4, y: 40 } });
    await expect.poll(() => device.locator('[data-chart="temp"] [data-testid="chart-hover"]').textContent()).toMatch(/^\d\d:\d\d:\d\d · SoC (\d+(\.\d)? °C|no sample) · warning 80 °C · critical 85 °C$/);
    await page.setViewportSize({ width: 1366, height: 768 });
    await tempChart.hover({ position: { x: (tempBox?.width ?? 100) - 4, y: 40 } });
    await page.screenshot({ path: app.shot('health-device-hover-1366.png') });
    await history.scrollIntoViewIfNeeded();
    await history.locator('.u-over').hover();
    await expect.poll(() => history.getByTestId('chart-hover').textContent()).toMatch(/^\d\d:\d\d(:\d\d)? · hottest (\d+(\.\d)? °C|no sample) · CPU avg (\d+(\.\d)? %|no sample)( · throttled)?$/);
    await page.screenshot({ path: app.shot('health-history-1366.png') });
    await page.mouse.move(0, 0);
    // Tall enough for the alerts, all seven charts and the history at once.
    await page.setViewportSize({ width: 1280, height: 1500 });
    await shoot('health-device.png');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('uses the thresholds saved in Settings: a critical line at 90 °C makes the hot tile a warning', async () => {
    await page.keyboard.press('Alt+6');
    const section = page.getByTestId('health-thresholds');
    await section.waitFor();
    const critical = section.getByLabel('Temperature critical (°C)');
    await critical.fill('70');
    await section.getByRole('button', { name: 'Save thresholds' }).click();
    expect(await section.getByText('Must be above the warning temperature (80 °C).').count()).toBe(1);
    await critical.fill('90');
    await section.getByRole('button', { name: 'Save thresholds' }).click();
    await section.getByText('Saved.').waitFor();
    await section.scrollIntoViewIfNeeded();
    await shoot('settings-health.png');
    expect((await app.services.handlers['settings.health.get']({})).thresholds.tempCriticalC).toBe(90);

    await page.keyboard.press('Alt+5');
    await expect.poll(() => tile('demo-pi-03').getAttribute('data-status'), { timeout: 5000 }).toBe('warning');
    await expect.poll(() => tile('demo-pi-03').getByTestId('tile-alerts').textContent()).toContain('86 °C — hot');
  });

  it('turns a tile critical within 15 s when the daemon of its demo agent stops, and says how to start it', async () => {
    const stopped = 'demo-pi-01';
    // The daemon's own record says which process it is (the demo runs no systemd).
    const record = JSON.parse(readFileSync(join(app.dataDir, 'demo', stopped, 'data', 'daemon.json'), 'utf8')) as { pid: number };
    const started = Date.now();
    process.kill(record.pid, 'SIGTERM');
    await expect.poll(() => tile(stopped).getAttribute('data-status'), { timeout: 15_000, interval: 100 }).toBe('critical');
    console.log(`demo daemon stopped → tile critical: ${String(Date.now() - started)} ms`);
    await expect.poll(() => tile(stopped).getByTestId('tile-alerts').textContent()).toContain('Agent service stopped');
    await shoot('health-agent-stopped-grid.png');
    await tile(stopped).getByRole('button', { name: `Open ${stopped}` }).click();
    const device = page.getByTestId('device-health');
    await device.waitFor();
    const alert = device.locator('[data-alert="agent-stopped"]');
    await alert.waitFor();
    const alertText = await alert.textContent();
    expect(alertText).toMatch(/The agent daemon is stopped \(stopped cleanly at \d\d:\d\d:\d\d UTC\)/);
    expect(alertText).toContain('What to do: Start the agent daemon again');
    expect(await device.getByTestId('device-status').textContent()).toBe('Critical');
    expect(await device.getByTestId('device-service').textContent()).toMatch(/service stopped \(stopped cleanly/);
    await shoot('health-agent-stopped-device.png');
    await page.getByRole('button', { name: '← Fleet' }).click();
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
