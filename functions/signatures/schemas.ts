import * as v from 'valibot';
import { integerParam } from '../../shared/http/validate';

/** `?x=&y=&z=`, all required integers. */
export const PointQuery = v.object({ x: integerParam, y: integerParam, z: integerParam });

/** A 64-bit mask in `info.json`: a JSON integer (parsed losslessly) or a decimal string. */
const Mask = v.pipe(
  v.union([v.pipe(v.number(), v.safeInteger()), v.bigint(), v.pipe(v.string(), v.regex(/^-?\d+$/))]),
  v.transform((mask) => BigInt(mask)),
);

/** `gs://{SIG_BUCKET}/{dataset}/info.json`: the block edge length and the four hamming-table masks. */
export const SignatureInfoFile = v.object({
  block_size: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  ham_0: Mask,
  ham_1: Mask,
  ham_2: Mask,
  ham_3: Mask,
});
