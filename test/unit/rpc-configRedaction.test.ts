import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { redactConfig, restoreRedactedSecrets } from '../../agent/rpc/configRedaction.ts';

const withPassword = AgentConfigSchema.parse({ device_id: 'pi-07', uplink: { url: 'http://ch.example:8123', password: 's3cret' } });
const withoutUplink = AgentConfigSchema.parse({ device_id: 'pi-07' });

describe('config redaction over RPC', () => {
  it('sends the uplink password as ***, and leaves an empty one empty', () => {
    expect(redactConfig(withPassword).uplink?.password).toBe('***');
    expect(withPassword.uplink?.password).toBe('s3cret');
    const empty = AgentConfigSchema.parse({ device_id: 'pi-07', uplink: { url: 'http://ch.example:8123' } });
    expect(redactConfig(empty).uplink?.password).toBe('');
    expect(redactConfig(withoutUplink)).toEqual(withoutUplink);
  });

  it('reads *** coming back as "keep the stored password", and a new password as a change', () => {
    const roundTrip = restoreRedactedSecrets(redactConfig(withPassword), withPassword);
    expect(roundTrip).toEqual(withPassword);
    const uplink = withPassword.uplink;
    if (uplink === null) throw new Error('fixture has an uplink');
    const changed = { ...withPassword, uplink: { ...uplink, password: 'n3w' } };
    expect(restoreRedactedSecrets(changed, withPassword).uplink?.password).toBe('n3w');
  });

  it('refuses *** when there is no stored password to keep, naming the field', () => {
    const uplink = withPassword.uplink;
    if (uplink === null) throw new Error('fixture has an uplink');
    const incoming = { ...withoutUplink, uplink: { ...uplink, password: '***' } };
    let thrown: unknown;
    try {
      restoreRedactedSecrets(incoming, withoutUplink);
    } catch (error) {
      thrown = error;
    }
    expect(isFieldkitError(thrown) && thrown.appError.field).toBe('params.config.uplink.password');
  });
});
