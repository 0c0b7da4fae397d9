/** Back up, Verify and Copy from the screen: each starts a job at once and leaves a notice when it cannot. */
import { useState } from 'react';
import type { AppError, Result } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import type { BackupScope } from './BackUpDialog.tsx';
import type { BackupNotice } from './backupOutcomes.ts';

export type BackupActions = {
  /** 'all', 'verify', 'copy:site', 'copy:offsite' while their start is in flight. */
  starting: ReadonlySet<string>;
  /** Devices (the laptop's ids) whose row's Back up is in flight. */
  startingDevices: ReadonlySet<string>;
  backUp: (scope: BackupScope) => void;
  verify: () => void;
  copy: (to: 'site' | 'offsite') => void;
};

export function useBackupActions(show: (notice: BackupNotice) => void, dismiss: (key: string) => void): BackupActions {
  const bridge = useBridge();
  const [starting, setStarting] = useState<ReadonlySet<string>>(new Set());

  function run(keys: readonly string[], title: string, call: () => Promise<Result<unknown>>): void {
    setStarting((s) => new Set([...s, ...keys]));
    void call().then((result) => {
      setStarting((s) => new Set([...s].filter((k) => !keys.includes(k))));
      if (result.ok) dismiss(`start:${title}`);
      else failed(title, result.error);
    });
  }
  function failed(title: string, error: AppError): void {
    show({ key: `start:${title}`, kind: 'failed', title, error });
  }

  return {
    starting,
    startingDevices: new Set([...starting].flatMap((k) => (k.startsWith('device:') ? [k.slice('device:'.length)] : []))),
    backUp(scope) {
      if (scope.kind === 'all') run(['all'], 'Could not start the backup', () => bridge.invoke('backup.start', { all: true }));
      else if (scope.kind === 'site') run([`site:${scope.site}`], 'Could not start the backup', () => bridge.invoke('backup.start', { site: scope.site }));
      else run(scope.deviceIds.map((id) => `device:${id}`), 'Could not start the backup', () => bridge.invoke('backup.start', { deviceIds: [...scope.deviceIds] }));
    },
    verify() {
      run(['verify'], 'Could not start verification', () => bridge.invoke('backup.verify', {}));
    },
    copy(to) {
      run([`copy:${to}`], `Could not start the copy to the ${to === 'site' ? 'site drive' : 'off-site repository'}`, () => bridge.invoke('backup.copy', { to }));
    },
  };
}
