import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerProblems } from '../../build/eslint/electronLayers.ts';
import { buildImportGraph, cycleThrough, isOnCycle } from '../../build/eslint/importGraph.ts';

/** The layering of DESIGN.md and electron/README.md is enforced by lint; these prove each rule bites. */
const eslint = new ESLint({
  cwd: process.cwd(),
  // The project's own config, minus type information (probe files are not on disk).
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports' || ruleId === 'fieldkit/electron-layers',
});

// Loading the config (typescript-eslint, and the repo's import graph for the cycle rule) takes
// seconds on a busy machine: done once here, outside any one test's time limit.
beforeAll(async () => {
  await eslint.calculateConfigForFile('shared/probe.ts');
}, 60_000);

async function errorsOf(ruleId: string, filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === ruleId).map((m) => m.message);
}

const importErrors = (filePath: string, code: string) => errorsOf('no-restricted-imports', filePath, code);
const layerErrors = (filePath: string, code: string) => errorsOf('fieldkit/electron-layers', filePath, code);

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

describe('layers inside electron/', () => {
  it('keeps domains and faces out of the kernel, type-only imports included', async () => {
    const kernelFile = 'electron/kernel/jobs/probe.ts';
    const [domainError] = await layerErrors(kernelFile, "import { listDrives } from '../../drives/listDrives.ts';\nexport const x = listDrives;\n");
    expect(domainError).toContain('electron/drives/listDrives.ts is in the drives domain');
    // Even a domain's index.ts: the kernel is handed what it needs, it does not import it.
    expect(await layerErrors(kernelFile, "import { x } from '../../drives/index.ts';\nexport const y = x;\n")).toHaveLength(1);
    expect(await layerErrors(kernelFile, "import type { CourierStore } from '../../courier/courierStore.ts';\nexport type X = CourierStore;\n")).toHaveLength(1);
    expect(await layerErrors(kernelFile, "export { flashJob } from '../../flash/flashJob.ts';\n")).toHaveLength(1);
    expect(await layerErrors(kernelFile, "export const load = () => import('../../deploy/rolloutJob.ts');\n")).toHaveLength(1);
    for (const face of ['../../app/appServices.ts', '../../cli/program.ts', '../../main.ts', '../../preload.ts']) {
      const [faceError] = await layerErrors(kernelFile, `import { x } from '${face}';\nexport const y = x;\n`);
      expect(faceError, face).toContain('never imports a face');
    }
  });

  it('lets the kernel import itself, shared/, Node and packages', async () => {
    const code = [
      "import { readFileSync } from 'node:fs';",
      "import { z } from 'zod';",
      "import { methods } from '../../../shared/api.ts';",
      "import { openStore } from '../store/openStore.ts';",
      "import { jobContext } from './jobContext.ts';",
      'export const x = [readFileSync, z, methods, openStore, jobContext];',
    ].join('\n');
    expect(await layerErrors('electron/kernel/jobs/probe.ts', code)).toEqual([]);
  });

  it("lets a domain reach a sibling only through the sibling's index.ts", async () => {
    const healthFile = 'electron/health/probe.ts';
    const [reachIn] = await layerErrors(healthFile, "import { createCourierStore } from '../courier/courierStore.ts';\nexport const x = createCourierStore;\n");
    expect(reachIn).toContain('health reaches into the courier domain (electron/courier/courierStore.ts)');
    expect(reachIn).toContain('electron/courier/index.ts');
    expect(await layerErrors(healthFile, "import type { CourierStore } from '../courier/courierStore.ts';\nexport type X = CourierStore;\n")).toHaveLength(1);
    // deploy/slots/index.ts is inside deploy, not deploy's door.
    expect(await layerErrors(healthFile, "import { x } from '../deploy/slots/index.ts';\nexport const y = x;\n")).toHaveLength(1);
    const allowed = [
      "import { createCourierStore } from '../courier/index.ts';",
      "import { healthService } from './healthService.ts';",
      "import { addHealthCommands } from './cli/healthCommands.ts';",
      "import { jobContext } from '../kernel/jobs/jobContext.ts';",
      "import { methods } from '../../shared/api.ts';",
      'export const x = [createCourierStore, healthService, addHealthCommands, jobContext, methods];',
    ].join('\n');
    expect(await layerErrors(healthFile, allowed)).toEqual([]);
    // From deep inside a domain too.
    expect(await layerErrors('electron/deploy/slots/probe.ts', "import { x } from '../../devices/deviceStore.ts';\nexport const y = x;\n")).toHaveLength(1);
    expect(await layerErrors('electron/deploy/slots/probe.ts', "import { x } from '../rolloutStore.ts';\nexport const y = x;\n")).toEqual([]);
  });

  it('keeps faces out of the domains', async () => {
    for (const face of ['../cli/cliContext.ts', '../app/appServices.ts', '../main.ts']) {
      const [error] = await layerErrors('electron/flash/probe.ts', `import { x } from '${face}';\nexport const y = x;\n`);
      expect(error, face).toContain('A domain never imports a face');
    }
  });

  it('counts a new electron/ folder as a domain, both ways', async () => {
    expect(await layerErrors('electron/newdomain/probe.ts', "import { x } from '../devices/deviceStore.ts';\nexport const y = x;\n")).toHaveLength(1);
    expect(await layerErrors('electron/drives/probe.ts', "import { x } from '../newdomain/internals.ts';\nexport const y = x;\n")).toHaveLength(1);
    expect(await layerErrors('electron/kernel/probe.ts', "import { x } from '../newdomain/index.ts';\nexport const y = x;\n")).toHaveLength(1);
  });

  it('lets the faces import anything in electron/', async () => {
    const code = "import { x } from '../courier/courierStore.ts';\nimport { y } from '../kernel/jobs/jobRunner.ts';\nexport const z = [x, y];\n";
    expect(await layerErrors('electron/app/probe.ts', code)).toEqual([]);
    expect(await layerErrors('electron/cli/probe.ts', code)).toEqual([]);
    expect(await layerErrors('electron/main.ts', "import { x } from './deploy/slots/slotJob.ts';\nexport const z = x;\n")).toEqual([]);
  });
});

describe('no import cycles', () => {
  /** A small repo on disk: the cycle rule reads the files a linted file imports, not only the file. */
  let repo: string;
  let cycles: ESLint;

  const files: Record<string, string> = {
    // Two files, one side type-only.
    'electron/kernel/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
    'electron/kernel/b.ts': "import type { Thing } from './a.ts';\nexport const b = 1;\nexport type Other = Thing;\n",
    // Three files across folders, and one importer standing outside the cycle.
    'agent/x.ts': "import { y } from '../shared/y.ts';\nexport const x = y;\n",
    'shared/y.ts': "export { z as y } from '../test/z.ts';\n",
    'test/z.ts': "import { x } from '../agent/x.ts';\nexport const z = () => x;\n",
    'bench/outside.ts': "import { x } from '../agent/x.ts';\nexport const o = x;\n",
    // No cycle: a chain.
    'renderer/src/one.ts': "import { two } from './two.ts';\nexport const one = two;\n",
    'renderer/src/two.ts': "export const two = 2;\n",
  };

  beforeAll(async () => {
    repo = mkdtempSync(path.join(tmpdir(), 'fieldkit-cycles-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      writeFileSync(path.join(repo, file), text);
    }
    cycles = new ESLint({
      cwd: repo,
      overrideConfigFile: path.join(process.cwd(), 'eslint.config.js'),
      overrideConfig: [
        { languageOptions: { parserOptions: { projectService: false, project: null } } },
        { rules: { 'fieldkit/no-import-cycles': ['error', { root: repo }] } },
      ],
      ruleFilter: ({ ruleId }) => ruleId === 'fieldkit/no-import-cycles',
    });
    await cycles.calculateConfigForFile(path.join(repo, 'agent/x.ts'));
  }, 60_000);
  afterAll(() => {
    rmSync(repo, { recursive: true, force: true });
  });

  async function cycleErrors(): Promise<Record<string, string[]>> {
    const results = await cycles.lintFiles(['.']);
    const byFile: Record<string, string[]> = {};
    for (const result of results) {
      const messages = result.messages.map((m) => `${m.line}: ${m.message}`);
      if (messages.length > 0) byFile[path.relative(repo, result.filePath)] = messages;
    }
    return byFile;
  }

  it('reports every import on a cycle, naming the cycle, and nothing else', async () => {
    const errors = await cycleErrors();
    expect(Object.keys(errors).sort()).toEqual(['agent/x.ts', 'electron/kernel/a.ts', 'electron/kernel/b.ts', 'shared/y.ts', 'test/z.ts']);
    expect(errors['electron/kernel/a.ts']).toEqual([expect.stringContaining('1: Import cycle: electron/kernel/a.ts → electron/kernel/b.ts → electron/kernel/a.ts.')]);
    // The type-only side is on the cycle too.
    expect(errors['electron/kernel/b.ts']).toEqual([expect.stringContaining('1: Import cycle: electron/kernel/b.ts → electron/kernel/a.ts → electron/kernel/b.ts.')]);
    expect(errors['agent/x.ts']).toEqual([expect.stringContaining('Import cycle: agent/x.ts → shared/y.ts → test/z.ts → agent/x.ts.')]);
    expect(errors['shared/y.ts']).toEqual([expect.stringContaining('Import cycle: shared/y.ts → test/z.ts → agent/x.ts → shared/y.ts.')]);
  });

  it('checks a file as written, before it is saved', async () => {
    const closesCycle = "import { one } from './one.ts';\nexport const two = one;\n";
    const [result] = await cycles.lintText(closesCycle, { filePath: path.join(repo, 'renderer/src/two.ts') });
    expect(result?.messages.map((m) => m.message)).toEqual([expect.stringContaining('Import cycle: renderer/src/two.ts → renderer/src/one.ts → renderer/src/two.ts.')]);
  });
});

describe('the repo itself', () => {
  const root = process.cwd();
  const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

  it('turns both rules on as errors, for every file the cycle rule must see', async () => {
    const electronConfig: unknown = await eslint.calculateConfigForFile('electron/kernel/jobs/jobRunner.ts');
    const otherConfig: unknown = await eslint.calculateConfigForFile('renderer/src/main.tsx');
    // cyclesKey makes ESLint's --cache lint every file again when the set of cycles changes (noImportCycles.ts).
    expect(electronConfig).toMatchObject({
      rules: { 'fieldkit/electron-layers': [2, { root }], 'fieldkit/no-import-cycles': [2, { root, cyclesKey: expect.any(String) as unknown }] },
    });
    expect(otherConfig).toMatchObject({ rules: { 'fieldkit/no-import-cycles': [2, { root }] } });
  });

  it('has no import cycle and no import across the layers of electron/', () => {
    const graph = buildImportGraph(root);
    const onCycles = [...graph.edges].flatMap(([from, targets]) =>
      targets.filter((to) => isOnCycle(graph, from, to)).map((to) => cycleThrough(graph, from, to).join(' → ')),
    );
    const acrossLayers = [...graph.texts]
      .filter(([file]) => file.startsWith('electron/'))
      .flatMap(([file, text]) => layerProblems(file, text, graph.files).map((p) => `${file}:${lineOf(text, p.site.start)} ${p.messageId} ${p.site.specifier}`));
    expect({ onCycles, acrossLayers }).toEqual({ onCycles: [], acrossLayers: [] });
  });
});
