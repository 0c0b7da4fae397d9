import { describe, expect, it } from 'vitest';
import { toAppError } from '../../electron/kernel/api/dispatch.ts';
import { appError, FieldkitError, tidySentence } from '../../shared/errors.ts';

describe('error sentences', () => {
  it('end with one full stop where a wrapped message already ended its sentence', () => {
    // The pattern of many errors: a cause's message, itself a sentence, inside ours.
    const cause = appError('NOT_FOUND', 'The folder /media/usb does not exist.', 'Pick another folder.');
    const wrapped = appError('IO_ERROR', `Cannot copy the bundle: ${cause.message}.`, `${cause.hint}.`);
    expect(wrapped.message).toBe('Cannot copy the bundle: The folder /media/usb does not exist.');
    expect(wrapped.hint).toBe('Pick another folder.');
    expect(tidySentence('Is the Pi on?.')).toBe('Is the Pi on?');
    expect(tidySentence('Stop now!.')).toBe('Stop now!');
  });

  it('keep ellipses, version numbers and a dot mid-sentence', () => {
    expect(tidySentence('Connecting...')).toBe('Connecting...');
    expect(tidySentence('Waiting… then retrying.')).toBe('Waiting… then retrying.');
    expect(tidySentence('Agent 1.2.3 is older than 1.3.0.')).toBe('Agent 1.2.3 is older than 1.3.0.');
    expect(tidySentence('e.g. pi@10.0.0.7.')).toBe('e.g. pi@10.0.0.7.');
  });

  it('are tidied on the way out of the dispatcher too, whoever built the error', () => {
    const literal = new FieldkitError({ code: 'UNAVAILABLE', message: 'Cannot reach pi-07: connection refused..', hint: 'Check the Pi is on..', field: 'id' });
    expect(toAppError(literal)).toEqual({ code: 'UNAVAILABLE', message: 'Cannot reach pi-07: connection refused.', hint: 'Check the Pi is on.', field: 'id' });
  });
});
