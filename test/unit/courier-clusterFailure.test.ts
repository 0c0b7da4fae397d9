/**
 * A replica of a ClickHouse cluster dying mid-insert is the cluster's failure, not the
 * data's: the forward must wait and send the batch again, never split it and quarantine
 * good rows. The words are what 18.16 answered in courier-cluster.test.ts's setup when a
 * shard's replica was SIGKILLed during a Distributed insert with insert_distributed_sync=1.
 */
import { describe, expect, it } from 'vitest';
import { describeClickHouseFailure } from '../../electron/courier/clickhouseConnection.ts';

describe('describeClickHouseFailure on a cluster', () => {
  const url = 'http://ch1:8123';
  it('takes a replica lost mid-insert for a transient failure, in either generation\'s words', () => {
    const old = describeClickHouseFailure(
      new Error('Code: 32, e.displayText() = DB::Exception: Attempt to read after eof: Insertion status:\nWrote 3 blocks and 90439 rows on shard 0 replica 0, 127.0.0.1:33013 (average 54 ms per block, the slowest block 80 ms)\nWrote 2 blocks and 70781 rows on shard 1 replica 0, 127.0.0.1:45729 (average 56 ms per block, the slowest block 80 ms)\n, e.what() = DB::Exception'),
      url,
    );
    expect(old).toMatchObject({ kind: 'transient', serverCode: '32', error: { code: 'UNAVAILABLE', message: expect.stringContaining('A ClickHouse node behind http://ch1:8123 failed during the insert (code 32)') as unknown } });
    const current = Object.assign(new Error('Attempt to read after eof: while receiving packet from ch3:9000'), { code: '32', type: 'ATTEMPT_TO_READ_AFTER_EOF' });
    expect(describeClickHouseFailure(current, url).kind).toBe('transient');
  });

  it('still splits a batch whose own data ends early', () => {
    const truncated = Object.assign(new Error('Cannot parse input: expected \'"\' before: \'\': (at row 3)\n: While executing ParallelParsingBlockInputFormat'), { code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
    expect(describeClickHouseFailure(truncated, url).kind).toBe('rejected');
    expect(describeClickHouseFailure(new Error('Code: 32, e.displayText() = DB::Exception: Attempt to read after eof: (at row 1)'), url).kind).toBe('rejected');
  });
});
