import * as v from 'valibot';
import { jsonObject } from '../../shared/http/validate';
import { documentId, idList, MAX_IDS_PER_DELETE } from '../../shared/ids';

export const VolumeId = documentId('volume id');

/** Where a volume's objects live: `gs://{bucket}/{path}/...`. Other posted fields are dropped, as in the original. */
export const Volume = v.object({
  bucket: v.pipe(
    v.string(),
    v.regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'bucket must be a bare Cloud Storage bucket name (no gs://, no slashes)'),
  ),
  path: v.string(),
  description: v.optional(v.string()),
});
export type Volume = v.InferOutput<typeof Volume>;

/** `{ "<id>": Volume, ... }` */
export const VolumesBody = v.pipe(jsonObject, v.record(VolumeId, Volume));

/** `["<id>", ...]` */
export const VolumeIdList = idList(VolumeId, MAX_IDS_PER_DELETE, 'volume ids');

export const VolumeParams = v.object({ volume: VolumeId });

export const ProxyParams = v.object({ volume: VolumeId, path: v.string() });
