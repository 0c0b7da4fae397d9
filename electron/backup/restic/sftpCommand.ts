/**
 * An sftp: repository is reached with the system ssh, which restic runs. fieldkit makes it
 * use its own app key and a known_hosts file the app controls (first contact pins the
 * server's key; a changed key is refused), never the user's agent, keys or known_hosts.
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';

export type SftpTarget = { user: string | null; host: string; port: number | null; path: string };

/** `sftp:user@host:/path` or `sftp://user@host:port//path`; null for any other backend. */
export function parseSftpUrl(url: string): SftpTarget | null {
  if (!url.startsWith('sftp:')) return null;
  const rest = url.slice('sftp:'.length);
  const long = /^\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/(.*)$/.exec(rest);
  const short = long === null ? /^(?:([^@:]+)@)?(\[[^\]]+\]|[^:]+):(.*)$/.exec(rest) : null;
  const m = long ?? short;
  if (m === null || m[2] === undefined || m[2] === '' || (m[long ? 4 : 3] ?? '') === '') {
    throw new FieldkitError(appError('BAD_REQUEST', `${url} is not an sftp repository URL restic understands.`, 'Write it as sftp:user@host:/path or sftp://user@host:port//path.', 'offsiteUrl'));
  }
  return long
    ? { user: m[1] ?? null, host: m[2], port: m[3] === undefined ? null : Number(m[3]), path: m[4] ?? '' }
    : { user: m[1] ?? null, host: m[2], port: null, path: m[3] ?? '' };
}

function quote(arg: string): string {
  return /[\s"'\\]/.test(arg) ? `"${arg.replace(/["\\]/g, '\\$&')}"` : arg;
}

/** The whole ssh command for restic's `-o sftp.command=`. */
export function sftpCommandFor(target: SftpTarget, keyPath: string, knownHostsPath: string): string {
  const args = [
    'ssh',
    '-i', keyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=accept-new',
    '-o', 'ServerAliveInterval=15',
    ...(target.port === null ? [] : ['-p', String(target.port)]),
    // ssh takes an IPv6 address bare; restic's URL brackets it.
    `${target.user === null ? '' : `${target.user}@`}${target.host.replace(/^\[(.*)\]$/, '$1')}`,
    '-s', 'sftp',
  ];
  return args.map(quote).join(' ');
}
