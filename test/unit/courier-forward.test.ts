import { describe, expect, it } from 'vitest';
import { describeClickHouseFailure } from '../../electron/courier/clickhouseConnection.ts';
import { forwardToken, seqRuns } from '../../electron/courier/forwardDelivery.ts';
import { applyClickHouseSettingsPatch } from '../../electron/courier/clickhouseSettingsStore.ts';
import { checkForm, formFromSettings, placeError } from '../../renderer/src/settings/clickhouseForm.ts';
import { clickHouseUrlProblem, ClickHouseSettingsPatchSchema } from '../../shared/clickhouseSettings.ts';
import { appError, badRequestFromZod } from '../../shared/errors.ts';
import { FieldkitError } from '../../shared/errors.ts';

const journal = { device_id: 'pi-07', journal_id: 'j-3f9a' };

describe('forward batches', () => {
  it('marks by runs of consecutive seqs', () => {
    expect(seqRuns([{ seq: 1 }, { seq: 2 }, { seq: 3 }, { seq: 7 }, { seq: 9 }, { seq: 10 }])).toEqual([[1, 3], [7, 7], [9, 10]]);
    expect(seqRuns([])).toEqual([]);
  });

  it("uses the uplink's token for a whole range, and marks a range with holes by its count", () => {
    expect(forwardToken('record', journal, { first: 1, last: 50_000, count: 50_000 })).toBe('pi-07:j-3f9a:1-50000');
    expect(forwardToken('record', journal, { first: 1, last: 50_000, count: 49_999 })).toBe('pi-07:j-3f9a:1-50000:n49999');
    expect(forwardToken('loss', journal, { first: 4, last: 90, count: 3 })).toBe('pi-07:j-3f9a:4-90:loss:n3');
  });
});

describe('describeClickHouseFailure', () => {
  const url = 'http://ch:8123';
  const serverError = (message: string, code?: string, type?: string) => Object.assign(new Error(message), code === undefined ? {} : { code }, type === undefined ? {} : { type });

  it('waits out an unreachable or busy server', () => {
    expect(describeClickHouseFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }), url)).toMatchObject({ kind: 'transient', error: { code: 'UNAVAILABLE' } });
    expect(describeClickHouseFailure(new Error('socket hang up'), url).kind).toBe('transient');
    expect(describeClickHouseFailure(serverError('Memory limit (for query) exceeded', '241', 'MEMORY_LIMIT_EXCEEDED'), url).kind).toBe('transient');
    expect(describeClickHouseFailure(serverError('Too many parts (300). Merges are processing significantly slower than inserts', '252', 'TOO_MANY_PARTS'), url).kind).toBe('transient');
  });

  it('splits a batch the server refuses as data, in either generation\'s words', () => {
    const old = describeClickHouseFailure(new Error("Code: 49, e.displayText() = DB::Exception: Unknown element 'x' for type Enum8('a' = 1): (while read the value of key kind), e.what() = DB::Exception"), url);
    expect(old).toMatchObject({ kind: 'rejected', serverCode: '49' });
    expect(old.error.message).not.toContain('e.what()');
    expect(describeClickHouseFailure(serverError("Unknown element 'x' for enum: (while reading the value of key kind): (at row 2)", '691', 'UNKNOWN_ELEMENT_OF_ENUM'), url)).toMatchObject({
      kind: 'rejected',
      error: { message: expect.stringContaining('(code 691 UNKNOWN_ELEMENT_OF_ENUM)') as unknown },
    });
    expect(describeClickHouseFailure(serverError('Too many partitions for single INSERT block (more than 100)', '252', 'TOO_MANY_PARTS'), url).kind).toBe('rejected');
  });

  it('stops for credentials, TLS and schema, saying what to fix', () => {
    expect(describeClickHouseFailure(serverError('default: Authentication failed: password is incorrect', '516', 'AUTHENTICATION_FAILED'), url)).toMatchObject({ kind: 'fatal', error: { code: 'PERMISSION_DENIED' } });
    expect(describeClickHouseFailure(new Error('Code: 192, e.displayText() = DB::Exception: Unknown user nobody'), url)).toMatchObject({ kind: 'fatal', error: { code: 'PERMISSION_DENIED' } });
    expect(describeClickHouseFailure(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), url)).toMatchObject({ kind: 'fatal', error: { code: 'VERIFICATION_FAILED' } });
    expect(describeClickHouseFailure(serverError('Table default.nope does not exist', '60', 'UNKNOWN_TABLE'), url)).toMatchObject({ kind: 'fatal', error: { code: 'CONFLICT' } });
    // An error it does not know is never taken for bad data: nothing is quarantined by guesswork.
    expect(describeClickHouseFailure(serverError('Something new', '9999'), url).kind).toBe('fatal');
    // OpenSSL's "wrong version number": an https:// URL at a port that answers plain HTTP.
    const openssl = Object.assign(new Error('write EPROTO 401DE5F1407F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:'), { code: 'EPROTO' });
    expect(describeClickHouseFailure(openssl, 'https://ch.example.com:8123')).toMatchObject({
      kind: 'fatal',
      error: { code: 'BAD_REQUEST', field: 'url', message: 'This server speaks http:// on port 8123, not https://: use http://ch.example.com:8123.' },
    });
  });
});

describe('ClickHouse settings', () => {
  it('needs a URL first, then keeps what a change does not name', () => {
    expect(() => applyClickHouseSettingsPatch(null, { user: 'fieldkit' })).toThrow(FieldkitError);
    const first = applyClickHouseSettingsPatch(null, { url: 'https://ch.example.com:8443', user: 'fieldkit', cluster: 'fleet' });
    expect(first).toEqual({
      url: 'https://ch.example.com:8443',
      user: 'fieldkit',
      database: 'default',
      table: 'telemetry',
      cluster: 'fleet',
      tls: { caFile: null, certFile: null, keyFile: null },
      batchRows: 50_000,
    });
    expect(applyClickHouseSettingsPatch(first, { table: 'telemetry_v2', cluster: null })).toMatchObject({ user: 'fieldkit', table: 'telemetry_v2', cluster: null });
  });

  it('refuses half a client certificate, TLS files on http://, and unreadable files, naming the field', () => {
    const base = applyClickHouseSettingsPatch(null, { url: 'https://ch.example.com:8443' });
    const caught = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof FieldkitError ? error.appError : error;
      }
      return null;
    };
    expect(caught(() => applyClickHouseSettingsPatch(base, { certFile: '/etc/hostname' }))).toMatchObject({ code: 'BAD_REQUEST', field: 'keyFile' });
    expect(caught(() => applyClickHouseSettingsPatch(base, { url: 'http://ch:8123', caFile: '/etc/hostname' }))).toMatchObject({ code: 'BAD_REQUEST', field: 'url' });
    expect(caught(() => applyClickHouseSettingsPatch(base, { caFile: '/nonexistent/ca.pem' }))).toMatchObject({ code: 'NOT_FOUND', field: 'caFile' });
  });

  it('accepts only http(s) URLs without credentials in them, and plain names', () => {
    expect(ClickHouseSettingsPatchSchema.safeParse({ url: 'https://user:pw@ch:8443' }).success).toBe(false);
    expect(ClickHouseSettingsPatchSchema.safeParse({ url: 'ftp://ch' }).success).toBe(false);
    expect(ClickHouseSettingsPatchSchema.safeParse({ table: 'x; DROP TABLE y' }).success).toBe(false);
    expect(ClickHouseSettingsPatchSchema.safeParse({ batchRows: 5000 }).success).toBe(false);
    expect(ClickHouseSettingsPatchSchema.safeParse({ url: 'http://127.0.0.1:8123/', batchRows: 100_000 }).success).toBe(true);
  });
});

describe('the ClickHouse URL, said once in plain words', () => {
  it('names what is missing, with the URL it probably meant', () => {
    expect(clickHouseUrlProblem('ch.example.com:8123')).toBe('Add http:// or https:// in front, such as http://ch.example.com:8123 (http:// for port 8123, https:// for 8443).');
    expect(clickHouseUrlProblem('ch.example.com:8443/')).toContain('such as https://ch.example.com:8443/');
    expect(clickHouseUrlProblem('ftp://ch')).toBe("ClickHouse's HTTP interface takes http:// or https://, not ftp://.");
    expect(clickHouseUrlProblem('https://u:p@ch:8443')).toContain('Leave the user and password out of the URL');
    expect(clickHouseUrlProblem('')).toContain('Give the URL');
    expect(clickHouseUrlProblem(' http://ch:8123/ ')).toBeNull();
    expect(checkForm({ ...formFromSettings(null), url: 'ch:8123' })).toEqual({ url: expect.stringMatching(/^Add http:\/\/ or https:\/\//) as unknown });
  });

  it('puts a contract refusal under its field without the method name, and a test failure in the outcome only', () => {
    const parsed = ClickHouseSettingsPatchSchema.safeParse({ url: 'ch:8123' });
    if (parsed.success) throw new Error('expected a refusal');
    const contract = badRequestFromZod('settings.clickhouse.set', parsed.error);
    expect(placeError('save', contract)).toEqual({ field: 'url', text: 'Add http:// or https:// in front, such as http://ch:8123 (http:// for port 8123, https:// for 8443).' });
    const table = ClickHouseSettingsPatchSchema.safeParse({ table: 'a b' });
    if (table.success) throw new Error('expected a refusal');
    expect(placeError('test', badRequestFromZod('settings.clickhouse.test', table.error))).toEqual({ field: 'table', text: expect.stringMatching(/^Expected a plain ClickHouse name/) as unknown });
    const mismatch = appError('BAD_REQUEST', 'This server speaks http:// on port 8123, not https://: use http://ch:8123.', 'Change the URL.', 'url');
    expect(placeError('test', mismatch)).toBeNull();
    expect(placeError('save', appError('BAD_REQUEST', 'Mutual TLS needs both a client certificate and its key.', 'Give both.', 'keyFile'))).toEqual({ field: 'keyFile', text: 'Mutual TLS needs both a client certificate and its key. Give both.' });
    expect(placeError('save', appError('IO_ERROR', 'The secrets file is damaged.', 'Delete it.'))).toBeNull();
  });
});
