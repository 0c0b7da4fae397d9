/** The app itself. */
import { z } from 'zod';
import type { MethodSpec } from './methodSpec.ts';

export const AppInfoSchema = z.object({
  name: z.literal('fieldkit'),
  version: z.string(),
  dataDir: z.string(),
  platform: z.string(),
  arch: z.string(),
  runtime: z.string(),
  /** Present while the demo site runs: whether it has a ClickHouse of its own, or how to get one. */
  demo: z
    .object({
      clickhouse: z.union([
        z.object({ url: z.string(), settings: z.enum(['prefilled', 'kept']) }),
        z.object({ unavailable: z.string(), hint: z.string() }),
      ]),
    })
    .optional(),
});
export type AppInfo = z.infer<typeof AppInfoSchema>;

export const appMethods = {
  'app.info': {
    summary: 'Version, platform and data folder of this fieldkit.',
    request: z.strictObject({}),
    response: AppInfoSchema,
  },
} as const satisfies Record<string, MethodSpec>;
