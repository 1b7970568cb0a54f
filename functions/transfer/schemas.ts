import * as v from 'valibot';
import { jsonObject } from '../../shared/http/validate';
import { DatasetId } from '../../shared/ids';

const coordinate = v.pipe(v.number(), v.safeInteger('center coordinates must be integers'));

/** The README's body: `{"dataset": ..., "model_name": ..., "center": [x, y, z]}`. */
export const TransferRequest = v.pipe(
  jsonObject,
  v.object({
    dataset: DatasetId,
    model_name: v.pipe(v.string(), v.nonEmpty('model_name must not be empty')),
    center: v.strictTuple([coordinate, coordinate, coordinate], 'center must be [x, y, z]'),
  }),
);
