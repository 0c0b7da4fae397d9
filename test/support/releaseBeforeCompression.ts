/**
 * The agent and the laptop's RPC client as they were released before compressed pulls
 * (commit `releaseBeforeCompression`), extracted from this repository's history: the real
 * older code, for testing that new and old sides still talk (an older agent refuses
 * request fields it does not know; an older laptop refuses frame types it does not know).
 * Needs the git history (a clean clone has it; a shallow one must fetch this commit).
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './tempDir.ts';

/** The last commit before journal.read learnt zstd. */
export const releaseBeforeCompression = '3efa6a7eef5ba3436ba9828fec9e83b8a89845a8';
/** The last commit before journal.read learnt to send batches as their canonical lines (journal.read.lines). */
export const releaseBeforeLines = 'a71cdc8c36f9d5ec5bf79d5c6f0183ce1e6f5fe5';

const repoRoot = join(import.meta.dirname, '../..');

export type OlderRelease = {
  root: string;
  /** `node <root>/agent/main.ts`: the older agent's command line, run from source. */
  agentMain: string;
  /** The older laptop-side RPC client module (electron/kernel/link/agentRpcClient.ts). */
  clientModule: string;
  remove(): void;
};

export function extractOlderRelease(commit: string = releaseBeforeCompression): OlderRelease {
  const dir = makeTempDir('fieldkit-old-release-');
  let archive: Buffer;
  try {
    archive = execFileSync('git', ['-C', repoRoot, 'archive', commit, 'package.json', 'agent', 'shared', 'electron/kernel/link'], { maxBuffer: 256 * 1024 * 1024 });
  } catch (error) {
    dir.remove();
    throw new Error(`cannot extract commit ${commit} from git history (a shallow clone? fetch it with: git fetch --unshallow)`, { cause: error });
  }
  execFileSync('tar', ['-x', '-C', dir.path], { input: archive });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir.path, 'node_modules'));
  return {
    root: dir.path,
    agentMain: join(dir.path, 'agent', 'main.ts'),
    clientModule: join(dir.path, 'electron', 'kernel', 'link', 'agentRpcClient.ts'),
    remove: () => {
      dir.remove();
    },
  };
}
