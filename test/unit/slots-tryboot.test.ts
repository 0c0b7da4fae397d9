import { describe, expect, it } from 'vitest';
import { autobootText, committedBootPartition, judgeBoard, parseAutoboot, partitionDevice } from '../../electron/deploy/slots/tryboot.ts';

describe('autoboot.txt', () => {
  it('reads [all] and [tryboot], and writes what it reads', () => {
    const text = autobootText(2, 3);
    expect(text).toBe('[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n');
    const sections = parseAutoboot(text);
    expect(sections.tryboot).toEqual({ boot_partition: '3' });
    expect(committedBootPartition(sections)).toBe(2);
    expect(committedBootPartition(parseAutoboot('# comment\r\n[all]\r\ntryboot_a_b=1\r\nboot_partition=3\r\n'))).toBe(3);
  });
  it('says when autoboot.txt does not do tryboot A/B', () => {
    expect(committedBootPartition(parseAutoboot('[all]\nboot_partition=2\n'))).toBeNull();
    expect(committedBootPartition(parseAutoboot(''))).toBeNull();
  });
});

describe('board and bootloader', () => {
  it('accepts the Pi 5 family whatever its EEPROM', () => {
    expect(judgeBoard('Raspberry Pi 5 Model B Rev 1.0\0', null)).toMatchObject({ board: 'pi5', ok: true });
    expect(judgeBoard('Raspberry Pi Compute Module 5 Rev 1.0', null)).toMatchObject({ board: 'cm5', ok: true });
  });
  it('needs a recent EEPROM on the Pi 4 family', () => {
    expect(judgeBoard('Raspberry Pi 4 Model B Rev 1.5', '2024/09/23 13:02:56')).toMatchObject({ board: 'pi4', ok: true });
    const old = judgeBoard('Raspberry Pi Compute Module 4 Rev 1.0', '2021/04/29 14:00:00');
    expect(old).toMatchObject({ board: 'cm4', ok: false });
    expect(old.reason).toMatch(/2021-04-29.*2022-11-25/);
    expect(judgeBoard('Raspberry Pi 400 Rev 1.0', null).reason).toMatch(/could not be read/);
  });
  it('refuses older boards with the reason', () => {
    const pi3 = judgeBoard('Raspberry Pi 3 Model B Plus Rev 1.3', null);
    expect(pi3).toMatchObject({ board: 'pi3', ok: false });
    expect(pi3.reason).toMatch(/only the Pi 4/);
  });
  it('names partitions as Linux does', () => {
    expect(partitionDevice('/dev/mmcblk0', 3)).toBe('/dev/mmcblk0p3');
    expect(partitionDevice('/dev/nvme0n1', 5)).toBe('/dev/nvme0n1p5');
    expect(partitionDevice('/dev/sda', 2)).toBe('/dev/sda2');
  });
});
