/** Builds the renderer once before the e2e tests, exactly as `npm run serve` does. */
import { execFileSync } from 'node:child_process';

export default function buildRenderer(): void {
  execFileSync(process.execPath, ['build/build-renderer.ts'], { stdio: 'inherit' });
}
