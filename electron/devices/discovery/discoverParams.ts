/**
 * The discovery job's parameters, apart from the job (discoverDevices.ts): the devices
 * domain's job kinds need the schema when they are defined, and every worker that loads the
 * devices domain (a backup's) should not load mDNS, serial listing and the subnet probe for it.
 */
import { z } from 'zod';

export const DiscoverParamsSchema = z.object({
  subnet: z.string().optional(),
  port: z.number().int(),
  mdns: z.boolean(),
  serial: z.boolean(),
  /** Addresses already registered (host:port or port path), to mark as known. */
  known: z.array(z.string()),
});
export type DiscoverParams = z.infer<typeof DiscoverParamsSchema>;
