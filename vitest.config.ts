import { defineConfig } from 'vitest/config';

/**
 * unit: pure logic, no processes or devices. integration: real processes, sockets,
 * SQLite and block devices (zram needs root). e2e: the web host driven in Debian's
 * Chromium through playwright-core.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/support/checkRuntime.ts'],
    // Two files at a time even on two cores: the slow integration files (virtual Pis booting,
    // health gates waiting out their stable seconds, ClickHouse servers starting) mostly wait,
    // and one at a time the suite would not fit CI's 20 minutes. e2e files still run one by one.
    maxWorkers: 2,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/buildRenderer.ts'],
          testTimeout: 90_000,
          hookTimeout: 120_000,
          // One browser at a time: two cores, and zram devices are machine-wide.
          fileParallelism: false,
        },
      },
    ],
  },
});
