/** What every method of the app API (shared/api.ts) declares. */
import type { z } from 'zod';

export type MethodSpec = {
  request: z.ZodType;
  response: z.ZodType;
  /** One line for CLI help and API docs. */
  summary: string;
};
