import * as v from 'valibot';
import { jsonObject, queryBool } from '../../shared/http/validate';
import { DatasetId, idList, MAX_IDS_PER_DELETE } from '../../shared/ids';

/**
 * A dataset definition. `description` is required as in the original; the other known fields are
 * type-checked, and extra fields (e.g. `transfer`) are kept, since clients and tools read them.
 */
export const Dataset = v.pipe(
  jsonObject,
  v.looseObject({
    title: v.optional(v.string()),
    description: v.string(),
    tag: v.optional(v.string()),
    uuid: v.optional(v.string()),
    dvid: v.optional(v.string()),
    mainLayer: v.optional(v.string()),
    neuroglancer: v.optional(jsonObject),
    versions: v.optional(v.array(v.unknown())),
    typing: v.optional(jsonObject),
    neuprintHTTP: v.optional(v.looseObject({ dataset: v.string(), server: v.string() })),
    bodyAnnotationSchema: v.optional(jsonObject),
    orderedLayers: v.optional(v.array(v.unknown())),
    public: v.optional(v.boolean()),
    layers: v.optional(v.array(jsonObject)),
    dimensions: v.optional(jsonObject),
    position: v.optional(v.array(v.number())),
    crossSectionScale: v.optional(v.number()),
    projectionScale: v.optional(v.number()),
    location: v.optional(v.string()),
  }),
);

/** `{ "<id>": Dataset, ... }` */
export const DatasetsBody = v.pipe(jsonObject, v.record(DatasetId, Dataset));

/** `["<id>", ...]` */
export const DatasetIdList = idList(DatasetId, MAX_IDS_PER_DELETE, 'dataset ids');

export const TemplatesQuery = v.object({ templates: queryBool(false) });
