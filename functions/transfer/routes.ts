/**
 * The transfer function: runs a transfer network over a 256³ region of a dataset and returns a
 * neuroglancer link to the result (the original README's `/transfer`, with the JSON body it
 * documents; the original itself never accepted that body).
 */
import { cloudStorage } from '../../shared/cloud-storage';
import type { DatasetDoc } from '../../shared/datasets';
import { HttpError } from '../../shared/errors';
import { IMAGE_TRANSFER } from '../../shared/features';
import { type Family, JSON_API_DEPLOY, route } from '../../shared/http/routes';
import { neuroglancerLink, octantJobs, randomDirectory, SCALE_KEY, VOLUME_INFO } from './plan';
import { TransferRequest } from './schemas';
import { transferService } from './transfer-service';

/** The dataset's `transfer` field lists its models (an array, or an object keyed by model name). */
function offersModel(dataset: DatasetDoc, model: string): boolean {
  const models = dataset.transfer;
  if (Array.isArray(models)) return models.includes(model);
  return typeof models === 'object' && models !== null && Object.hasOwn(models, model);
}

export const transfer: Family = {
  name: 'transfer',
  deploy: {
    ...JSON_API_DEPLOY,
    // Eight jobs, each retried with backoff, can outlast the default minute.
    timeoutSeconds: 300,
    concurrency: 20,
    why: 'Each request waits minutes on the transfer service while using almost no CPU; 20 at once per instance bounds the jobs one instance has in flight.',
  },
  routes: [
    route({
      method: 'POST',
      path: '/transfer',
      surfaces: ['v2', 'test', 'legacy'],
      summary: 'Transfer a region of a dataset through a network model and view it in neuroglancer',
      description:
        'Body `{"dataset": id, "model_name": name, "center": [x, y, z]}`; the dataset must list the model in its ' +
        '`transfer` field and have a `location`. Needs the global clio_general role. Writes a 256³ volume below ' +
        'TRANSFER_DEST and answers `{"addr": "<neuroglancer link>"}`; 503 unless TRANSFER_FUNC and TRANSFER_DEST are set.',
      body: TransferRequest,
      slow: true,
      authorize: ({ caller }) => {
        if (!caller.hasRole('clio_general')) throw new HttpError(403, 'image transfer needs the global clio_general role');
      },
      requires: [IMAGE_TRANSFER],
      handler: async ({ body, ctx }) => {
        const { service, dest } = transferService(ctx.config);
        const dataset = await ctx.datasets.get(body.dataset);
        if (!dataset) throw new HttpError(400, `dataset ${body.dataset} not found`);
        if (!offersModel(dataset, body.model_name)) {
          throw new HttpError(400, `dataset ${body.dataset} does not offer the transfer model ${body.model_name}`);
        }
        if (typeof dataset.location !== 'string' || dataset.location === '') {
          throw new HttpError(400, `dataset ${body.dataset} has no location to transfer from`);
        }
        const directory = randomDirectory();
        await cloudStorage(ctx.config).create(dest, `${directory}/info`, JSON.stringify(VOLUME_INFO), 'application/json');
        await service.run(octantJobs(dataset.location, body.model_name, body.center, `${dest}/${directory}/${SCALE_KEY}`));
        return { addr: neuroglancerLink(dest, directory) };
      },
    }),
  ],
};
