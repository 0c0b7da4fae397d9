/** `fieldkit-agent backup-restore`: the command line of restoreClass.ts and checkDatabases.ts (JSON on stdout). */
import { BackupClassSchema } from '../../shared/backupStream.ts';
import { checkDatabases } from './checkDatabases.ts';
import { removeRestoreTemps, restoreClass } from './restoreClass.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

function list(value: string | boolean | string[] | undefined): string[] {
  return Array.isArray(value) ? value : [];
}

function print(value: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(`${JSON.stringify(value)}\n`)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

export async function backupRestore(configPath: string, v: Values, usage: (message: string) => Error): Promise<number> {
  const dbs = list(v['check-db']);
  if (dbs.length > 0) {
    if (v.class !== undefined) throw usage('backup-restore takes --class or --check-db, not both');
    const checks = checkDatabases(dbs);
    await print({ databases: checks });
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  const parsed = BackupClassSchema.safeParse(v.class);
  if (!parsed.success) throw usage('backup-restore needs --class config, state, data or secrets (or --check-db PATH)');
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      removeRestoreTemps();
      process.stderr.write(`error: stopped by ${signal}: nothing was replaced\nhint: Run the restore again.\n`);
      process.exit(1);
    });
  }
  try {
    const report = await restoreClass({
      cls: parsed.data,
      configPath,
      input: process.stdin as AsyncIterable<Buffer>,
      keepPaths: list(v.keep),
      keepConfig: list(v['keep-config']),
      expectDevice: typeof v['expect-device'] === 'string' ? v['expect-device'] : null,
    });
    await print(report);
    return 0;
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}; nothing was replaced\nhint: Check the snapshot (fieldkit backup verify) and run the restore again.\n`);
    return 1;
  }
}
