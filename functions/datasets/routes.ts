/**
 * The datasets function: dataset definitions, readable by those with access, managed by admins.
 */
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { DatasetParams } from '../../shared/ids';
import { DatasetIdList, DatasetsBody, TemplatesQuery } from './schemas';
import { deleteDatasets, readAllDatasets, readDataset, saveDatasets } from './store';
import { substituteTemplates } from './templates';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];

const notAdmin = (action: string) => new HttpError(401, `only admins may ${action} datasets`);

export const datasets: Family = {
  name: 'datasets',
  deploy: { ...JSON_API_DEPLOY, why: 'Small JSON answers from the cached dataset catalog or one document: I/O-bound, so one instance serves many callers.' },
  routes: [
    route({
      method: 'GET',
      path: '/datasets',
      surfaces: EVERYWHERE,
      summary: 'List the datasets the caller can read',
      description:
        'Public datasets and those the caller has a reading role on (in DSG mode also those that wait only for the ' +
        'caller to accept terms of service), keyed by id, with every stored field. ' +
        '`{tag}` and `{uuid}` are substituted unless `templates=true`.',
      query: TemplatesQuery,
      handler: async ({ query, caller, ctx }) => {
        const all = await readAllDatasets(ctx.db());
        const visible: Record<string, unknown> = {};
        for (const [id, doc] of all) {
          if (doc.public === true || caller.canReadIgnoreTos(id)) visible[id] = query.templates ? doc : substituteTemplates(doc);
        }
        return visible;
      },
    }),
    route({
      method: 'GET',
      path: '/datasets/:dataset',
      surfaces: EVERYWHERE,
      summary: 'Get one dataset',
      query: TemplatesQuery,
      params: DatasetParams,
      handler: async ({ params, query, caller, ctx }) => {
        const doc = await readDataset(ctx.db(), params.dataset);
        if (!(doc?.public === true || caller.canRead(params.dataset))) {
          throw new HttpError(401, `user lacks permission to read dataset ${params.dataset}`);
        }
        if (!doc) throw new HttpError(404, `dataset ${params.dataset} not found`);
        return query.templates ? doc : substituteTemplates(doc);
      },
    }),
    route({
      method: 'POST',
      path: '/datasets',
      surfaces: EVERYWHERE,
      summary: 'Create or update datasets (admin)',
      description:
        'Body `{ "<id>": {dataset}, ... }`. Each dataset is stored as posted. A dataset that has a `tag` may only ' +
        'move to the same or a newer tag (compared numerically); if any entry fails, nothing is written.',
      body: DatasetsBody,
      handler: async ({ body, caller, ctx }) => {
        if (!caller.isAdmin()) throw notAdmin('modify');
        await saveDatasets(ctx.db(), body);
        for (const [id, doc] of Object.entries(body)) ctx.datasets.remember(id, doc);
        return null;
      },
    }),
    route({
      method: 'DELETE',
      path: '/datasets',
      surfaces: EVERYWHERE,
      summary: 'Delete datasets (admin)',
      description: 'Body `["<id>", ...]`. Only the dataset documents are deleted; missing ids are ignored.',
      body: DatasetIdList,
      handler: async ({ body, caller, ctx }) => {
        if (!caller.isAdmin()) throw notAdmin('delete');
        await deleteDatasets(ctx.db(), body);
        for (const id of body) ctx.datasets.forget(id);
        return null;
      },
    }),
  ],
};
