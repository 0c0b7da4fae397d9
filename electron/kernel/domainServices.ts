/**
 * Services domains offer one another, by typed keys. The domain that owns a service
 * exports its key from its index.ts; a sibling reaches the service only through that door,
 * and the app provides the options some domains take the same way.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';

/**
 * The name of something a domain offers others (a device store, the live health service)
 * or an option the app hands a domain (poll drives or not). The domain that owns it exports
 * the key from its index.ts, so a sibling reaches it only through that door.
 */
export type ServiceKey<T> = { readonly name: string; readonly __type?: T };

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

/** Services domains offer one another, filled as they start in the list's order. */
export type DomainServices = {
  provide<T>(key: ServiceKey<T>, value: T): void;
  /** The service, or a startup error naming it: a domain listed before the one that provides it is a bug in app/domains.ts. */
  use<T>(key: ServiceKey<T>): T;
  /** The service or option, if anyone provided it. */
  find<T>(key: ServiceKey<T>): T | undefined;
};

export function createDomainServices(): DomainServices {
  const provided = new Map<string, unknown>();
  return {
    provide(key, value) {
      if (provided.has(key.name)) throw new Error(`${key.name} was provided twice`);
      provided.set(key.name, value);
    },
    use<T>(key: ServiceKey<T>): T {
      if (!provided.has(key.name)) {
        throw new FieldkitError(appError('INTERNAL', `fieldkit started a part that needs ${key.name} before anything provided it.`, 'This is a bug in fieldkit (the order of app/domains.ts); report it.'));
      }
      return provided.get(key.name) as T;
    },
    find<T>(key: ServiceKey<T>): T | undefined {
      return provided.get(key.name) as T | undefined;
    },
  };
}
