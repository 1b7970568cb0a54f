/**
 * The signatures function: image search by signature. A search that finds nothing answers 200
 * with the original's `{"messsage": ...}` (sic) and also `"message"`; failures of Cloud Storage
 * or BigQuery are 502/504.
 */
import type { Caller } from '../../shared/auth/roles';
import { cloudStorage } from '../../shared/cloud-storage';
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { IMAGE_SEARCH } from '../../shared/features';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { similarSignatures } from './bigquery';
import { DatasetParams } from '../../shared/ids';
import { PointQuery } from './schemas';
import { LookupFailure, partitions, type Point, SignatureFiles, spreadMatches } from './search';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];

const filesByConfig = new WeakMap<Config, SignatureFiles>();

/** This instance's signature files. */
function signatureFiles(config: Config): SignatureFiles {
  const bucket = IMAGE_SEARCH.settings(config);
  let files = filesByConfig.get(config);
  if (!files) {
    files = new SignatureFiles(cloudStorage(config), bucket);
    filesByConfig.set(config, files);
  }
  return files;
}

function requireGeneral({ caller, params: { dataset } }: { caller: Caller; params: { dataset: string } }): void {
  if (!caller.hasRole('clio_general', dataset)) {
    throw new HttpError(403, `user lacks the clio_general role needed to search images of dataset ${dataset}`);
  }
}

/** Runs a search, turning "nothing found" into the original's 200 body. */
async function reportingLookupFailures(search: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  try {
    return await search();
  } catch (error) {
    if (!(error instanceof LookupFailure)) throw error;
    return { messsage: error.message, message: error.message };
  }
}

const SEARCH_NOTE =
  'The dataset id is lower-cased to find its files in SIG_BUCKET. When nothing is found the answer is 200 ' +
  '`{"messsage": reason, "message": reason}` (the original\'s spelling kept); 503 when SIG_BUCKET is unset.';

export const signatures: Family = {
  name: 'signatures',
  deploy: { ...JSON_API_DEPLOY, why: 'Waits on Cloud Storage and BigQuery; the small signature files are cached per instance, so many callers share one.' },
  routes: [
    route({
      method: 'GET',
      path: '/signatures/atlocation/:dataset',
      surfaces: EVERYWHERE,
      summary: 'The image signature nearest to a point',
      description: `Answers \`{"point": [x, y, z], "signature": "<signed 64-bit decimal>"}\` for the nearest sample within 100 units. ${SEARCH_NOTE}`,
      params: DatasetParams,
      query: PointQuery,
      authorize: requireGeneral,
      requires: [IMAGE_SEARCH],
      handler: async ({ params, query, ctx }) => {
        const files = signatureFiles(ctx.config);
        return reportingLookupFailures(async () => {
          const { sample } = await files.sampleAt(params.dataset.toLowerCase(), [query.x, query.y, query.z]);
          return { point: sample.point, signature: sample.signature.toString() };
        });
      },
    }),
    route({
      method: 'GET',
      path: '/signatures/likelocation/:dataset',
      surfaces: EVERYWHERE,
      summary: 'Places whose image signature is like the one at a point',
      description:
        'Answers `{"matches": [{"point": [x, y, z], "dist": <differing bits>, "score": 1 - dist/8}, ...]}`, most similar ' +
        'first, at most one per 100 units and none within 100 units of the point; an empty list comes with ' +
        `\`"message": "no matches"\`. ${SEARCH_NOTE}`,
      params: DatasetParams,
      query: PointQuery,
      authorize: requireGeneral,
      requires: [IMAGE_SEARCH],
      handler: async ({ params, query, ctx }) => {
        const files = signatureFiles(ctx.config);
        return reportingLookupFailures(async () => {
          const dataset = params.dataset.toLowerCase();
          const point: Point = [query.x, query.y, query.z];
          const { info, sample } = await files.sampleAt(dataset, point);
          const similar = await similarSignatures(ctx.config, dataset, sample.signature, partitions(info, sample.signature));
          const matches = spreadMatches(point, similar);
          return matches.length > 0 ? { matches } : { matches, message: 'no matches' };
        });
      },
    }),
  ],
};
