/**
 * The curl calls of the original clio-store README, as data. The OpenAPI generator routes each
 * URL through the route table to find the operation it illustrates, so a call documents whichever
 * route answers it, and calls whose family is not deployed are simply left out.
 */
import type { Method } from '../../shared/http/routes';

export interface ReadmeCall {
  /** The README's sentence introducing the call. */
  readonly summary: string;
  readonly method: Method;
  /** Path and query as the README wrote them (bare legacy paths, one under /clio_toplevel). */
  readonly url: string;
  readonly body?: unknown;
}

const AT = '?x=50&y=30&z=50';
const SIGNATURE_AT = '?x=18416&y=16369&z=26467';

export const README_CALLS: readonly ReadmeCall[] = [
  { summary: 'Post datasets (can post multiple, will overwrite pre-existing)', method: 'POST', url: '/datasets', body: { mb20: { description: '4nm MB', location: 'gs://' } } },
  { summary: 'Get datasets', method: 'GET', url: '/datasets' },
  { summary: 'Delete datasets', method: 'DELETE', url: '/datasets', body: ['mb20'] },
  { summary: 'Post annotation (only one at a time, will overwrite pre-existing)', method: 'POST', url: `/annotations/mb20${AT}`, body: { foo: 'bar' } },
  { summary: 'Get annotations', method: 'GET', url: '/annotations/mb20' },
  { summary: 'Delete annotations (only one at a time)', method: 'DELETE', url: `/annotations/mb20${AT}` },
  { summary: 'Post saved search (only one at a time, will overwrite pre-existing)', method: 'POST', url: `/savedsearches/mb20${AT}`, body: { foo: 'bar' } },
  { summary: 'Get saved searches', method: 'GET', url: '/savedsearches/mb20' },
  { summary: 'Delete saved search (only one at a time)', method: 'DELETE', url: `/savedsearches/mb20${AT}` },
  {
    summary: 'Post atlas annotation (only one at a time, will overwrite pre-existing)',
    method: 'POST',
    url: `/atlas/mb20${AT}`,
    body: { title: 'weird point', description: 'it is raally strange', user: 'foo@bar' },
  },
  { summary: 'Post atlas annotation in another dataset', method: 'POST', url: `/atlas/AbG${AT}`, body: { title: 'weird point', description: 'it is also strange', user: 'foo@bar' } },
  { summary: 'Get atlas annotations for a dataset', method: 'GET', url: '/atlas/mb20' },
  { summary: 'Get ALL atlas annotations across datasets', method: 'GET', url: '/atlas/all' },
  { summary: 'Delete atlas annotation (only one at a time)', method: 'DELETE', url: `/atlas/mb20${AT}` },
  { summary: 'Toggle verification status for a given annotation using the primary id', method: 'POST', url: '/clio_toplevel/atlas-verify/PRIMARYKEY' },
  { summary: 'Transfer a dataset location through a model', method: 'POST', url: '/transfer', body: { dataset: 'oldalign_VNC', model_name: 'vnc2hemi:synfocal_3000', center: [20135, 27130, 40622] } },
  { summary: 'Find signature near a given point', method: 'GET', url: `/signatures/atlocation/mb20${SIGNATURE_AT}` },
  { summary: 'Find matching points for a signature near a given point', method: 'GET', url: `/signatures/likelocation/mb20${SIGNATURE_AT}` },
  // The README's e-mail was lost to address obfuscation; its stray "datasets" nesting is kept (the users family accepts it).
  { summary: 'Add new user(s) or update roles', method: 'POST', url: '/users', body: { 'someone@example.org': { global_roles: ['admin', 'clio_general'] }, datasets: { hemibrain: ['clio_write'] } } },
  { summary: 'Remove user(s)', method: 'DELETE', url: '/users', body: ['plaza.stephen'] },
  { summary: 'Retrieve users', method: 'GET', url: '/users' },
  { summary: 'Determine the roles granted to the user', method: 'GET', url: '/roles' },
];

/** The call as a curl command line, with the header the README says every call needs. */
export function curlCommand(call: ReadmeCall): string {
  const parts = [`curl -X ${call.method}`, `-H "Authorization: Bearer $(gcloud auth print-identity-token)"`];
  if (call.body !== undefined) parts.push('-H "Content-Type: application/json"');
  parts.push(`'https://my-api-endpoint${call.url}'`);
  if (call.body !== undefined) parts.push(`-d '${JSON.stringify(call.body)}'`);
  return parts.join(' \\\n  ');
}
