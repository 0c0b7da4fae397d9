import { describe, expect, it } from 'vitest';
import { cleanConsoleText, stripEscapes } from '../../electron/kernel/link/consoleText.ts';

describe('console text', () => {
  it('strips bracketed paste, colours and titles as a real bash login prints them', () => {
    // Captured from agetty + bash on a PTY.
    const captured = "\u001b[?2004hfieldkit-test@vm:~$ \u001b[?2004l\r\r\nhi\r\n\u001b[01;32mgreen\u001b[0m\r\n\u001b]0;title\u0007done\r\n";
    expect(cleanConsoleText(captured)).toBe('fieldkit-test@vm:~$ \nhi\ngreen\ndone\n');
  });

  it('drops kernel messages, with or without a log level prefix', () => {
    const text = 'line1\r\n[   12.345678] usb 1-1: new high-speed USB device\r\n<6>[ 1234.5] EXT4-fs (mmcblk0p2): mounted\r\nline2\r\n';
    expect(cleanConsoleText(text)).toBe('line1\nline2\n');
  });

  it('keeps lines that merely contain brackets', () => {
    expect(cleanConsoleText('value [1.5] ok\n[x] done\n')).toBe('value [1.5] ok\n[x] done\n');
    expect(stripEscapes('plain')).toBe('plain');
  });
});
