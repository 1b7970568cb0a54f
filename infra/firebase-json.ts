/**
 * firebase.json, generated from the rewrite table: the Firestore emulator settings, the rules and
 * indexes files, and Hosting rewrites sending each family's paths to its function.
 * `npm run firebase-json` rewrites the file; a test fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAMILIES } from '../functions/registry';
import { firebaseRewrites, rewriteTable } from './rewrites';

export const DEFAULT_REGION = 'us-east4';
export const FIREBASE_JSON = join(__dirname, '..', 'firebase.json');

export function firebaseConfig(urlPrefix = '', region = DEFAULT_REGION) {
  return {
    firestore: { rules: 'firestore.rules', indexes: 'firestore.indexes.json' },
    emulators: {
      firestore: { host: '127.0.0.1', port: 8181 },
      ui: { enabled: false },
      singleProjectMode: true,
    },
    hosting: {
      public: 'infra/hosting',
      ignore: ['firebase.json', '**/.*'],
      rewrites: firebaseRewrites(rewriteTable(FAMILIES, urlPrefix), region),
    },
  };
}

export function firebaseJsonText(urlPrefix = '', region = DEFAULT_REGION): string {
  return `${JSON.stringify(firebaseConfig(urlPrefix, region), null, 2)}\n`;
}

if (require.main === module) {
  // URL_PREFIX and DEPLOY_REGION shape the rewrites of a deployment that uses them.
  writeFileSync(FIREBASE_JSON, firebaseJsonText(process.env.URL_PREFIX ?? '', process.env.DEPLOY_REGION || DEFAULT_REGION));
  process.stdout.write(`wrote ${FIREBASE_JSON}\n`);
}
