import * as v from 'valibot';
import { commaList, jsonObject, queryBool } from '../../shared/http/validate';
import { DatasetId, documentId, optionalDocumentId, optionalUserId, userId } from '../../shared/ids';

export const AnnotationParams = v.object({ dataset: DatasetId, key: documentId('annotation key') });

/** `user` (admins only, for someone else's annotations) and `groups`, a comma list of group names. */
export const ListQuery = v.object({ user: optionalUserId('user'), groups: commaList() });

export const WriteQuery = v.object({ move_key: optionalDocumentId('move_key'), replace: queryBool(true), conditional: commaList() });

export const DeleteQuery = v.object({ user_email: optionalUserId('user_email') });

/** Number of coordinates in `pos` for each kind. */
export const POSITION_LENGTH = { point: 3, lineseg: 6, sphere: 6 } as const;
export type Kind = keyof typeof POSITION_LENGTH;

/** Coordinates are integers; fractional numbers are truncated, as the original's pydantic model did. */
const Position = v.array(
  v.pipe(v.number('pos must hold numbers'), v.finite('pos must hold finite numbers'), v.transform(Math.trunc)),
  'pos must be an array of integers',
);

/**
 * A point, line segment or sphere. Unknown fields are dropped; `user` names the owner and
 * defaults to the caller.
 */
export const Annotation = v.pipe(
  jsonObject,
  v.object({
    kind: v.picklist(Object.keys(POSITION_LENGTH) as Kind[], 'kind must be point, lineseg or sphere'),
    pos: Position,
    prop: v.optional(v.nullable(jsonObject)),
    tags: v.optional(v.nullable(v.array(v.string('tags must be strings')))),
    user: v.optional(v.nullable(userId('user'))),
    title: v.optional(v.nullable(v.string('title must be a string'))),
    description: v.optional(v.nullable(v.string('description must be a string'))),
  }),
  v.forward(
    v.check(
      (annotation) => annotation.pos.length === POSITION_LENGTH[annotation.kind],
      (issue) => {
        const kind = (issue.input as { kind: Kind }).kind;
        return `pos of a ${kind} must have ${POSITION_LENGTH[kind]} coordinates`;
      },
    ),
    ['pos'],
  ),
);
export type Annotation = v.InferOutput<typeof Annotation>;

/** `body[1].pos` for the path `[1, "pos"]`. */
function where(path: readonly { key: unknown }[] | undefined): string {
  return `body${(path ?? []).map(({ key }) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('')}`;
}

/**
 * A union reports a single issue; its message says what is wrong with the shape the client sent
 * (an array or one object), item by item, rather than that the body matches neither shape.
 */
function bodyMessage(issue: v.UnionIssue<v.BaseIssue<unknown>>): string {
  const sentArray = Array.isArray(issue.input);
  const relevant = (issue.issues ?? []).filter(({ path }) => path !== undefined && typeof path[0]?.key === 'number' === sentArray);
  if (relevant.length === 0) return 'body must be an annotation object or an array of them';
  return relevant.map((inner) => `${where(inner.path)}: ${inner.message}`).join('; ');
}

/** One annotation or an array of them. */
export const AnnotationsBody = v.union([v.array(Annotation), Annotation], bodyMessage);
