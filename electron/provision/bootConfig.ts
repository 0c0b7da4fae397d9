/**
 * USB gadget Ethernet on a Pi: the dwc2 USB controller in peripheral mode (config.txt
 * `dtoverlay=dwc2`) and the g_ether gadget loaded at boot (cmdline.txt
 * `modules-load=dwc2,g_ether`). Pure edits of the two boot-partition files that leave
 * everything else as it was and change nothing when the settings are already there.
 */

/** config.txt with `dtoverlay=dwc2` in force for every board (appended under `[all]`). */
export function withDwc2Overlay(configTxt: string): string {
  // Any dwc2 overlay line counts, also with parameters (dr_mode=peripheral).
  if (/^\s*dtoverlay=dwc2(,.*)?\s*$/m.test(configTxt)) return configTxt;
  const body = configTxt === '' || configTxt.endsWith('\n') ? configTxt : `${configTxt}\n`;
  return `${body}\n[all]\n# Added by fieldkit: USB gadget Ethernet (usb0)\ndtoverlay=dwc2\n`;
}

/** cmdline.txt (one line) with dwc2 and g_ether in `modules-load=`, placed after `rootwait`. */
export function withGadgetModules(cmdlineTxt: string): string {
  const line = cmdlineTxt.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  const tokens = line === '' ? [] : line.split(/\s+/);
  const wanted = ['dwc2', 'g_ether'];
  const at = tokens.findIndex((t) => t.startsWith('modules-load='));
  if (at >= 0) {
    const modules = (tokens[at] ?? '').slice('modules-load='.length).split(',').filter((m) => m !== '');
    const missing = wanted.filter((m) => !modules.includes(m));
    if (missing.length === 0) return cmdlineTxt;
    tokens[at] = `modules-load=${[...modules, ...missing].join(',')}`;
  } else {
    const rootwait = tokens.indexOf('rootwait');
    tokens.splice(rootwait >= 0 ? rootwait + 1 : tokens.length, 0, `modules-load=${wanted.join(',')}`);
  }
  return `${tokens.join(' ')}\n`;
}
