/**
 * `npm start`: builds the renderer and the Electron bundles, then runs the app in
 * Electron. Where Electron's binary is missing and cannot be downloaded (offline, or a CI
 * box like ours), it says so once and points at the browser mode instead.
 * Run as `node build/start-electron.ts`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundleElectron } from './bundle-electron.ts';

const root = path.join(import.meta.dirname, '..');

export type ElectronBinary = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Finds Electron's executable the way `require('electron')` does, which downloads it on
 * first use. That runs in a child process so its download chatter and stack traces can
 * be summed up in one line when it fails.
 */
export async function resolveElectronBinary(): Promise<ElectronBinary> {
  const require = createRequire(import.meta.url);
  let electronModule: string;
  try {
    electronModule = require.resolve('electron');
  } catch {
    return { ok: false, reason: 'the electron package is not installed (run `npm install`)' };
  }
  const version = (JSON.parse(readFileSync(path.join(path.dirname(electronModule), 'package.json'), 'utf8')) as { version: string }).version;
  if (!isElectronInstalled(path.dirname(electronModule))) {
    console.log(`Electron ${version}'s binary is not installed yet; downloading it (first run only)…`);
  }
  // The module prints progress to stdout; the path follows a NUL marker.
  const script = `process.stdout.write('\\0' + require(${JSON.stringify(electronModule)}))`;
  const { code, stdout, stderr } = await runCaptured(process.execPath, ['-e', script]);
  const marker = stdout.lastIndexOf('\0');
  const binary = marker === -1 ? '' : stdout.slice(marker + 1).trim();
  if (code === 0 && binary !== '' && existsSync(binary)) return { ok: true, path: binary };
  const detail = firstErrorLine(stderr) ?? firstErrorLine(stdout) ?? `exit code ${String(code)}`;
  return { ok: false, reason: `the Electron ${version} binary is not installed and could not be downloaded (${detail})` };
}

/** Runs the app in Electron with `env` added; resolves with Electron's exit code. */
export function runElectron(binary: string, env: Record<string, string> = {}): Promise<number> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Inherited from a parent shell, this would make Electron behave as plain Node.
  delete childEnv.ELECTRON_RUN_AS_NODE;
  const child = spawn(binary, [root], { stdio: 'inherit', env: childEnv });
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`Could not run Electron at ${binary}: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
    });
  });
}

/** The one message for a machine where the desktop shell cannot run. */
export function explainMissingElectron(reason: string): void {
  console.error(`\nfieldkit cannot open its desktop window: ${reason}.\nRun fieldkit in a browser instead: npm run serve\n`);
}

/** Builds the renderer (Vite) in its own process, as `npm run build` does. */
export async function buildRenderer(): Promise<void> {
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'build', 'build-renderer.ts')], { stdio: 'inherit' });
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`building the renderer failed (exit code ${String(code)})`);
}

function isElectronInstalled(packageDir: string): boolean {
  const pathFile = path.join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return false;
  return existsSync(path.join(packageDir, 'dist', readFileSync(pathFile, 'utf8')));
}

function runCaptured(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      resolve({ code: null, stdout, stderr: error.message });
    });
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

function firstErrorLine(text: string): string | undefined {
  // The first error is the cause (say "TypeError: fetch failed" from the download); what
  // follows is electron's generic "failed to install correctly" and stack frames.
  return text
    .split('\n')
    .map((line) => line.trim())
    .find((line) => /^\w*Error\b/.test(line));
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1;
}

if (import.meta.main) {
  await buildRenderer();
  await bundleElectron();
  console.log('Bundled the main process, preload, job worker and CLI into dist/electron.');
  const electron = await resolveElectronBinary();
  if (!electron.ok) {
    explainMissingElectron(electron.reason);
    process.exit(1);
  }
  process.exitCode = await runElectron(electron.path);
}
