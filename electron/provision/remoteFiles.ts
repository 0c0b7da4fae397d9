/**
 * Files on the Pi, written only when they differ: the new content goes as stdin into a
 * temporary file beside the target, is compared with what is there (content, mode,
 * owner), and replaces it by rename only if anything differs. One round trip per file,
 * and the answer says whether it changed — which is what makes every step idempotent.
 */
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { ProvisionCommands } from './provisionCommands.ts';

export type RemoteFile = {
  path: string;
  content: string;
  /** Octal as `stat -c %a` prints it: '600', '644'. */
  mode: string;
  /** `user:group`; root:root when absent. */
  owner?: string;
  /** On a FAT boot partition there are no modes or owners to set or compare. */
  fat?: boolean;
};

/** Writes `file` unless it is already exactly so; resolves true when it changed. */
export async function putRemoteFile(cmds: ProvisionCommands, step: string, file: RemoteFile): Promise<boolean> {
  const p = shellQuote(file.path);
  const owner = file.owner ?? 'root:root';
  const same = file.fat === true ? `cmp -s "$t" ${p}` : `cmp -s "$t" ${p} && [ "$(stat -c '%a %U:%G' ${p})" = ${shellQuote(`${file.mode} ${owner}`)} ]`;
  const set = file.fat === true ? '' : `chown ${shellQuote(owner)} "$t" && chmod ${file.mode} "$t" && `;
  const script = [
    'set -e',
    `d=$(dirname ${p})`,
    'mkdir -p "$d"',
    't=$(mktemp "$d/.fieldkit-XXXXXX")',
    'cat > "$t"',
    `if [ -f ${p} ] && ${same}; then rm -f "$t"; echo unchanged; else ${set}mv -f "$t" ${p} && sync; echo changed; fi`,
  ].join('; ');
  const out = await cmds.must(step, script, `Writing ${file.path}`, { sudo: true, stdin: file.content });
  return out.trim().endsWith('changed') && !out.trim().endsWith('unchanged');
}

/** A file's text, or null when it does not exist (read as root: some are 0600). */
export async function readRemoteFile(cmds: ProvisionCommands, step: string, path: string): Promise<string | null> {
  const p = shellQuote(path);
  const out = await cmds.must(step, `if [ -f ${p} ]; then echo present; cat ${p}; else echo absent; fi`, `Reading ${path}`, { sudo: true });
  const newline = out.indexOf('\n');
  const head = newline < 0 ? out : out.slice(0, newline);
  return head === 'present' ? out.slice(newline + 1) : null;
}
