/**
 * Everything one function instance shares between requests: configuration, the lazily created
 * Firestore client, the user and dataset caches, the authenticator and the logger.
 */
import type { Firestore } from './firestore-client/client';
import { Authenticator } from './auth/authenticate';
import { UserDirectory } from './auth/users';
import type { Config } from './config';
import { DatasetCatalog } from './datasets';
import { lazyFirestore } from './firestore';
import { Logger } from './log';

export interface AppContext {
  readonly config: Config;
  readonly db: () => Firestore;
  readonly users: UserDirectory;
  readonly datasets: DatasetCatalog;
  readonly auth: Authenticator;
  readonly log: Logger;
}

export function createContext(config: Config, log = new Logger()): AppContext {
  const db = lazyFirestore(config);
  const users = new UserDirectory(db, config.owner);
  const datasets = new DatasetCatalog(db);
  const auth = new Authenticator(config, users, datasets, log);
  if (config.authMode !== 'legacy') {
    log.info(`authentication mode ${config.authMode}: DatasetGateway at ${config.dsg?.url}`);
    if (config.ignoredSettings.length > 0) log.warn(`ignored in ${config.authMode} mode: ${config.ignoredSettings.join(', ')}`);
  }
  if (config.authMode !== 'dsg' && config.authAudiences.length === 0) {
    log.warn('AUTH_AUDIENCES is unset: Google ID tokens issued to any OAuth client are accepted');
  }
  if (config.testUser) {
    log.warn(`TEST_USER is set: requests without a token act as ${config.testUser} (emulator only)`);
  }
  return { config, db, users, datasets, auth, log };
}
