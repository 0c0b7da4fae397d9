/** Fails the run at once, with what to do, when it is not on the runtime fieldkit targets. */
export default function checkRuntime(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 24) {
    throw new Error(
      `fieldkit's tests need Node 24 (Electron 45 and the agent run on it); this is Node ${process.versions.node}. ` +
        'Use `nvm use` (the repo has .nvmrc) or run `bash .ci/run`, which installs Node 24 from the npm registry.',
    );
  }
}
