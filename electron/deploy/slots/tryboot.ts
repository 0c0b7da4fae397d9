/**
 * What the Raspberry Pi firmware's A/B boot needs from us, kept pure so it is unit-tested:
 * autoboot.txt read and written (`[all]` tryboot_a_b + boot_partition, `[tryboot]`'s
 * boot_partition for the one-shot trial), and whether a board and its bootloader can do it.
 */
import type { Board } from '../../../shared/image.ts';

export type AutobootSections = Record<string, Record<string, string>>;

export function parseAutoboot(text: string): AutobootSections {
  const sections: AutobootSections = { all: {} };
  let current = 'all';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = header[1];
      sections[current] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) (sections[current] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/** The committed boot partition, or null when autoboot.txt does not do tryboot A/B. */
export function committedBootPartition(sections: AutobootSections): number | null {
  const all = sections.all ?? {};
  if (all.tryboot_a_b !== '1') return null;
  const n = Number(all.boot_partition);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** autoboot.txt that boots `committed` and, once after `reboot "0 tryboot"`, `trial`. */
export function autobootText(committed: number, trial?: number): string {
  const lines = ['[all]', 'tryboot_a_b=1', `boot_partition=${String(committed)}`];
  if (trial !== undefined) lines.push('[tryboot]', `boot_partition=${String(trial)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The oldest Pi 4-family EEPROM whose bootloader reads autoboot.txt's tryboot_a_b
 * (autoboot.txt arrived in the 2022-11 stable releases; we ask for that or newer).
 */
export const minimumPi4Bootloader = '2022-11-25';

export type BoardVerdict = { board: Board | null; ok: boolean; reason: string };

/** The board from /proc/device-tree/model and whether its bootloader can tryboot A/B. */
export function judgeBoard(model: string, bootloaderDate: string | null): BoardVerdict {
  const m = model.replace(/\0/g, '').trim();
  const pick = (): Board | null => {
    if (/Raspberry Pi 500/.test(m)) return 'pi500';
    if (/Raspberry Pi 5/.test(m)) return 'pi5';
    if (/Compute Module 5/.test(m)) return 'cm5';
    if (/Raspberry Pi 400/.test(m)) return 'pi400';
    if (/Raspberry Pi 4/.test(m)) return 'pi4';
    if (/Compute Module 4/.test(m)) return 'cm4';
    if (/Raspberry Pi 3/.test(m)) return 'pi3';
    if (/Zero 2 W/.test(m)) return 'zero2w';
    return null;
  };
  const board = pick();
  if (board === 'pi5' || board === 'pi500' || board === 'cm5') return { board, ok: true, reason: `${m}: its bootloader does tryboot A/B` };
  if (board === 'pi4' || board === 'pi400' || board === 'cm4') {
    if (bootloaderDate === null) return { board, ok: false, reason: `${m}: its EEPROM bootloader version could not be read (vcgencmd bootloader_version)` };
    const date = bootloaderDate.slice(0, 10).replaceAll('/', '-');
    if (date < minimumPi4Bootloader) return { board, ok: false, reason: `${m}: its EEPROM bootloader is from ${date}; tryboot A/B needs ${minimumPi4Bootloader} or newer` };
    return { board, ok: true, reason: `${m}: EEPROM bootloader ${date} does tryboot A/B` };
  }
  return { board, ok: false, reason: `${m || 'an unknown board'}: only the Pi 4, 400, CM4 (with a recent EEPROM) and the Pi 5 family boot A/B slots with tryboot` };
}

/** /dev/mmcblk0 → /dev/mmcblk0p (partitions append their number); /dev/sda → /dev/sda. */
export function partitionPrefix(disk: string): string {
  return /\d$/.test(disk) ? `${disk}p` : disk;
}

/** /dev/mmcblk0 + 3 → /dev/mmcblk0p3; /dev/sda + 3 → /dev/sda3. */
export function partitionDevice(disk: string, index: number): string {
  return `${partitionPrefix(disk)}${String(index)}`;
}
