import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The layering of DESIGN.md is enforced by lint; these prove the rule bites. */
const eslint = new ESLint({
  cwd: process.cwd(),
  // The project's own config, minus type information (probe files are not on disk).
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

async function importErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layering lint', () => {
  it('keeps node:* and our other layers out of shared/', async () => {
    expect(await importErrors('shared/probe.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n")).toHaveLength(1);
    expect(await importErrors('shared/probe.ts', "import { listDrives } from '../electron/drives/listDrives.ts';\nexport const x = listDrives;\n")).toHaveLength(1);
  });

  it('lets the renderer import only shared/', async () => {
    expect(await importErrors('renderer/src/probe.ts', "import { dispatch } from '../../electron/kernel/api/dispatch.ts';\nexport const x = dispatch;\n")).toHaveLength(1);
    expect(await importErrors('renderer/src/probe.ts', "import { methods } from '../../shared/api.ts';\nexport const x = methods;\n")).toHaveLength(0);
  });

  it('keeps the agent independent of the laptop code', async () => {
    expect(await importErrors('agent/probe.ts', "import { openStore } from '../electron/kernel/store/openStore.ts';\nexport const x = openStore;\n")).toHaveLength(1);
  });

  it("allows 'electron' only in main.ts and preload.ts", async () => {
    const code = "import { app } from 'electron';\nexport const x = app;\n";
    expect(await importErrors('electron/drives/probe.ts', code)).toHaveLength(1);
    expect(await importErrors('electron/main.ts', code)).toHaveLength(0);
    expect(await importErrors('electron/preload.ts', code)).toHaveLength(0);
  });
});
