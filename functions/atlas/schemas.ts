import * as v from 'valibot';
import { jsonObject } from '../../shared/http/validate';
import { documentId } from '../../shared/ids';

export const EntryParams = v.object({ id: documentId('atlas entry id') });

/**
 * An atlas entry: `title` and `user` (the owner's e-mail) are required, `verified` is a boolean;
 * every other client field (`description`, `kind`, `pos`, ...) is kept as sent.
 */
export const AtlasBody = v.pipe(
  jsonObject,
  v.looseObject({
    title: v.string('title must be a string'),
    user: v.pipe(v.string('user must be a string'), v.nonEmpty('user must name the owner')),
    verified: v.optional(v.boolean('verified must be true or false')),
  }),
);
export type AtlasBody = v.InferOutput<typeof AtlasBody>;
