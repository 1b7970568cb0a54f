/**
 * The neuprint function: a proxy for custom Cypher queries to the neuPrint server of a dataset,
 * limited to that dataset's own neuPrint dataset.
 */
import * as v from 'valibot';
import { HttpError } from '../../shared/errors';
import { NEUPRINT } from '../../shared/features';
import { type Family, JSON_API_DEPLOY, route } from '../../shared/http/routes';
import { customQuery } from './neuprint';
import { DatasetParams } from '../../shared/ids';
import { CustomQuery, NeuprintSettings } from './schemas';

/** `hemibrain:v1.2` → `hemibrain`. */
const nameOf = (neuprintDataset: string) => neuprintDataset.split(':')[0];

export const neuprint: Family = {
  name: 'neuprint',
  deploy: {
    ...JSON_API_DEPLOY,
    // neuPrint queries may take the full 60 s upstream timeout, plus the time to pass the answer on.
    timeoutSeconds: 90,
    why: 'Waits on neuPrint with almost no CPU of its own, so one instance serves many callers.',
  },
  routes: [
    route({
      method: 'POST',
      path: '/neuprint/:dataset',
      surfaces: ['v2', 'test'],
      summary: "Run a custom Cypher query on the dataset's neuPrint server",
      description:
        'Body `{"cypher": query, "dataset": "<neuprintHTTP.dataset>[:<version>]"}`; needs the clio_general role on the ' +
        "dataset. neuPrint's status and JSON answer are passed through. Sent with the server's NEUPRINT_APPLICATION_CREDENTIALS " +
        "(503 when unset), or for a DatasetGateway caller with the caller's own DSG key.",
      params: DatasetParams,
      body: CustomQuery,
      slow: true,
      authorize: ({ params, caller }) => {
        if (!caller.hasRole('clio_general', params.dataset)) {
          throw new HttpError(403, `user lacks the clio_general role needed to query neuPrint for dataset ${params.dataset}`);
        }
      },
      // DSG callers' keys are forwarded (upstream HEAD); neuPrint checks them with DSG itself.
      requires: [NEUPRINT],
      requiresFor: (caller) => !caller.dsg,
      handler: async ({ params, body, caller, ctx }) => {
        const credentials = caller.dsg?.token ?? NEUPRINT.settings(ctx.config);
        const dataset = await ctx.datasets.get(params.dataset);
        if (!dataset) throw new HttpError(404, `dataset ${params.dataset} not found`);
        const settings = v.safeParse(NeuprintSettings, dataset.neuprintHTTP);
        if (!settings.success) {
          throw new HttpError(400, `dataset ${params.dataset} has no usable neuPrint server (neuprintHTTP: ${v.summarize(settings.issues)})`);
        }
        const own = settings.output.dataset;
        if (nameOf(body.dataset) !== nameOf(own)) {
          throw new HttpError(400, `dataset ${params.dataset} may only query its own neuPrint dataset ${own} (optionally with :version), not ${body.dataset}`);
        }
        return customQuery(ctx.config, credentials, settings.output.server, body);
      },
    }),
  ],
};
