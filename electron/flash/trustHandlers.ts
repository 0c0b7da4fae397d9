/** The trust.* and settings.flash.* methods of the app API. */
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { importTrustedKey, listTrustedKeys, revokeTrustedKey } from '../kernel/trust/trustStore.ts';
import { loadFlashSettings, saveFlashSettings } from './flashSettingsStore.ts';

type TrustMethods = 'trust.list' | 'trust.import' | 'trust.revoke' | 'settings.flash.get' | 'settings.flash.set';

export function createTrustHandlers(deps: { db: Store }): Pick<ApiHandlers, TrustMethods> {
  const { db } = deps;
  return {
    'trust.list': () => Promise.resolve({ keys: listTrustedKeys(db) }),
    'trust.import': ({ publicKey, label }) => Promise.resolve({ key: importTrustedKey(db, publicKey, label) }),
    'trust.revoke': ({ keyId, reason }) => Promise.resolve({ key: revokeTrustedKey(db, keyId, reason) }),
    'settings.flash.get': () => Promise.resolve({ settings: loadFlashSettings(db) }),
    'settings.flash.set': ({ allowUnsigned }) => Promise.resolve({ settings: saveFlashSettings(db, { allowUnsigned }) }),
  };
}
