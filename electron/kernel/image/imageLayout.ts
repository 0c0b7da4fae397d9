/**
 * The A/B partition layout recorded in an image's manifest: the table read from the raw
 * image, with each partition's role. GPT names that are role names (`boot_a`) say so
 * directly; otherwise the tryboot convention is assumed when there are exactly six data
 * partitions (boot selector, boot A, boot B, root A, root B, data, in table order).
 */
import { PartitionRoleSchema, type ImagePartition, type PartitionLayout, type PartitionRole } from '../../../shared/image.ts';
import type { PartitionTable } from './partitionTable.ts';

const conventionalOrder: PartitionRole[] = ['bootsel', 'boot_a', 'boot_b', 'root_a', 'root_b', 'data'];

/** The manifest's layout for `table`; MBR extended containers are left out (nothing is written there by itself). */
export function layoutOf(table: PartitionTable): PartitionLayout {
  const data = table.partitions.filter((p) => !p.container);
  const named = data.map((p) => PartitionRoleSchema.safeParse(p.name));
  const byName = named.some((r) => r.success);
  const partitions: ImagePartition[] = data.map((p, i) => {
    const fromName = named[i];
    const role: PartitionRole = byName ? (fromName?.success === true ? fromName.data : 'other') : data.length === conventionalOrder.length ? (conventionalOrder[i] ?? 'other') : 'other';
    return { index: p.index, start: p.start, size: p.size, type: p.type, role, ...(p.name === undefined ? {} : { label: p.name }) };
  });
  return { table: table.table, partitions };
}
