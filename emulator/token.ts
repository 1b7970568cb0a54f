/**
 * `npm run token -- <email>`: prints a FlyEM token for local multi-user work, signed with the
 * same secret `npm start` uses (FLYEM_SECRET, else the local default).
 */
import { issueFlyemToken } from '../shared/auth/tokens';
import { localEnv } from './local-env';

const email = process.argv[2]?.trim().toLowerCase();
if (!email || !email.includes('@')) {
  process.stderr.write('usage: npm run token -- <email>\n');
  process.exit(2);
}
process.stdout.write(`${issueFlyemToken(localEnv(process.env).FLYEM_SECRET!, email, null)}\n`);
