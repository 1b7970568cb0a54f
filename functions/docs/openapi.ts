/**
 * The OpenAPI 3.0 document, generated from the route declarations: every declared route is one
 * operation at its canonical path, and its parameters, body and response are converted from the
 * very valibot schemas the wrapper validates with. Aliases (`/test`, the bare legacy paths,
 * `/clio_toplevel`) are not separate operations; each operation's description lists them.
 */
import { toJsonSchema, type JsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { HttpError } from '../../shared/errors';
import { type AnySchema, type RoutedFamily, type Method, mountedPaths, parsePath, type Route, Router, SURFACE_ROOTS, type Surface } from '../../shared/http/routes';
import { jsonObject } from '../../shared/http/validate';
import { curlCommand, README_CALLS, type ReadmeCall } from './examples';

export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: JsonSchema;
  description?: string;
  example?: unknown;
}

interface MediaType {
  schema: JsonSchema;
  examples?: Record<string, { summary: string; value: unknown }>;
}

export interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, unknown>;
  /** Empty on public routes; otherwise the document-wide bearer requirement applies. */
  security?: [];
  'x-codeSamples'?: { lang: string; label: string; source: string }[];
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers?: { url: string }[];
  tags: { name: string; description: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<Lowercase<Method>, Operation>>>;
  components: Record<string, Record<string, unknown>>;
}

export interface OpenApiOptions {
  /** The service's version (package.json). */
  readonly version: string;
}

/** The error bodies the shared wrapper sends (shared/http/handler.ts, shared/errors.ts). */
export const ErrorBody = v.object({
  detail: v.string(),
  error_id: v.optional(v.pipe(v.string(), v.description('Only on a 5xx: the id under which the failure was logged.'))),
});
export const ValidationErrorBody = v.object({
  detail: v.array(
    v.object({
      loc: v.array(v.union([v.string(), v.pipe(v.number(), v.integer())])),
      msg: v.string(),
      type: v.string(),
    }),
  ),
});

const ref = (kind: 'responses' | 'schemas', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** The mount an operation is documented at: `/v2` first, then the root pages, the bare legacy path, `/test`. */
const CANONICAL_ORDER: readonly Surface[] = ['v2', 'root', 'legacy', 'test'];

/** `/v2/datasets/:dataset` → `/v2/datasets/{dataset}` (a `*rest` capture becomes `{rest}` too). */
function openApiPath(path: string): string {
  const segments = parsePath(path).map((s) => (s.kind === 'literal' ? s.value : `{${s.name}}`));
  return `/${segments.join('/')}`;
}

function canonicalPath(route: Route): string {
  const surface = CANONICAL_ORDER.find((s) => route.surfaces.includes(s));
  if (!surface) throw new Error(`${route.method} ${route.path} is mounted on no surface`);
  return openApiPath(`${SURFACE_ROOTS[surface][0]}${route.path}`);
}

export function buildOpenApiDocument(families: readonly RoutedFamily[], options: OpenApiOptions): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const operations = new Map<Route, Operation>();
  for (const family of families) {
    for (const route of family.routes) {
      const path = canonicalPath(route);
      const method = route.method.toLowerCase() as Lowercase<Method>;
      const item = (paths[path] ??= {});
      if (item[method]) throw new Error(`${route.method} ${path} is declared twice`);
      item[method] = operationFor(family, route, path);
      operations.set(route, item[method]);
    }
  }
  attachReadmeCalls(families, operations);

  return {
    openapi: '3.0.3',
    info: { title: 'Clio Store', version: options.version, description: SERVICE_DESCRIPTION },
    tags: families.map((family) => ({ name: family.name, description: `Served by the \`${family.name}\` Cloud Function.` })),
    security: [{ bearer: [] }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A Google ID token (`gcloud auth print-identity-token`) or a FlyEM token from `POST /v2/server/token`. ' +
            'Locally, `npm start` with `TEST_USER` set lets requests without a token act as that user.',
        },
      },
      schemas: {
        HTTPError: toSchema(ErrorBody, 'output'),
        HTTPValidationError: toSchema(ValidationErrorBody, 'output'),
      },
      responses: {
        Unauthorized: errorResponse('Missing or invalid token, or the caller lacks the role this needs (`WWW-Authenticate: Bearer`).', 'HTTPError'),
        Forbidden: errorResponse('The caller\'s account is disabled (`"inactive user"`).', 'HTTPError'),
        ValidationFailed: errorResponse('A path parameter, query parameter or body failed validation; one entry per problem.', 'HTTPValidationError'),
        Error: errorResponse('Any other error, e.g. 400, 404, or a 5xx (which also carries an `error_id` to quote).', 'HTTPError'),
      },
    },
  };
}

const SERVICE_DESCRIPTION = [
  'Clio Store manages logins, datasets and annotations for large electron-microscopy (connectomics) datasets:',
  'dataset definitions, users and roles, point/line/sphere annotations, atlas entries, saved searches,',
  'key-value stores, and proxies to DVID, neuPrint and the image-search services.',
  '',
  'Every call needs `Authorization: Bearer <token>` unless marked public. Errors are `{"detail": "..."}`;',
  'validation errors are 422 with a list of `{loc, msg, type}`. Each operation is shown at its canonical',
  '`/v2/...` path; the aliases it also answers at (`/test/...`, the original README\'s bare paths and',
  '`/clio_toplevel/...`) are listed in its description. Every path also answers with a trailing slash.',
].join('\n');

function errorResponse(description: string, schema: string) {
  return { description, content: { 'application/json': { schema: ref('schemas', schema) } } };
}

function operationFor(family: RoutedFamily, route: Route, path: string): Operation {
  const parameters = [...pathParameters(route), ...queryParameters(route)];
  const aliases = mountedPaths(route)
    .map(openApiPath)
    .filter((alias) => alias !== path);
  const description = [
    route.description ?? '',
    aliases.length > 0 ? `Also served at ${aliases.map((a) => `\`${a}\``).join(', ')}.` : '',
    route.public ? 'Public: no token needed.' : '',
  ].filter(Boolean);

  const responses: Record<string, unknown> = {
    200: {
      description: 'Successful Response',
      content: route.mediaType
        ? { [route.mediaType]: { schema: { type: 'string' } } }
        : { 'application/json': { schema: route.response ? toSchema(route.response, 'output') : {} } },
    },
  };
  if (!route.public) Object.assign(responses, { 401: ref('responses', 'Unauthorized'), 403: ref('responses', 'Forbidden') });
  if (route.params || route.query || route.body) responses[422] = ref('responses', 'ValidationFailed');
  responses.default = ref('responses', 'Error');

  return {
    operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/_$/, '')}`,
    tags: [family.name],
    summary: route.summary,
    description: description.join('\n\n'),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: !v.safeParse(route.body, undefined).success, content: { 'application/json': { schema: toSchema(route.body, 'input') } } } }
      : {}),
    responses,
    ...(route.public ? { security: [] as [] } : {}),
  };
}

function pathParameters(route: Route): Parameter[] {
  const declared = route.params ? objectSchema(route, 'params') : undefined;
  return parsePath(route.path).flatMap((segment) =>
    segment.kind === 'literal' ? [] : [parameter(segment.name, 'path', true, declared?.properties[segment.name] ?? { type: 'string' })],
  );
}

function queryParameters(route: Route): Parameter[] {
  if (!route.query) return [];
  const { properties, required } = objectSchema(route, 'query');
  return Object.entries(properties).map(([name, schema]) => parameter(name, 'query', required.includes(name), schema));
}

/** A parameter; a description on its schema is shown as the parameter's. */
function parameter(name: string, where: Parameter['in'], required: boolean, schema: JsonSchema): Parameter {
  const { description, ...rest } = schema;
  return { name, in: where, required, schema: rest, ...(description ? { description } : {}) };
}

/** The properties of a route's params or query schema, which must be an object schema. */
function objectSchema(route: Route, which: 'params' | 'query'): { properties: Record<string, JsonSchema>; required: string[] } {
  const schema = toSchema(route[which]!, 'input');
  if (schema.type !== 'object' || !schema.properties) {
    throw new Error(`${route.method} ${route.path}: the ${which} schema must be an object schema to be documented`);
  }
  return { properties: schema.properties as Record<string, JsonSchema>, required: (schema.required as string[] | undefined) ?? [] };
}

/**
 * valibot → OpenAPI 3.0 schema. Requests are documented by their input type (what a client
 * sends, before transforms), responses by their output type. Checks with no JSON Schema
 * equivalent (`check`, `trim`, ...) are left out rather than failing the build.
 */
export function toSchema(schema: AnySchema, typeMode: 'input' | 'output'): JsonSchema {
  return toJsonSchema(unguarded(schema), {
    target: 'openapi-3.0',
    typeMode,
    errorMode: 'ignore',
    overrideSchema: ({ valibotSchema, jsonSchema }) => {
      if (valibotSchema === jsonObject) return { type: 'object' };
      if (valibotSchema.type === 'bigint') return { type: 'integer' };
      // OpenAPI 3.0 wants `required` to list at least one name.
      if (Array.isArray(jsonSchema.required) && jsonSchema.required.length === 0) {
        const { required: _, ...rest } = jsonSchema;
        return rest;
      }
      return undefined;
    },
  });
}

type SchemaNode = Record<string, unknown> & { kind?: string };

const isSchema = (value: unknown): value is SchemaNode => typeof value === 'object' && value !== null && (value as SchemaNode).kind === 'schema';

/**
 * The schema tree as documented: `pipe(jsonObject, X, ...)` reads as `X`. The guard only rules
 * out arrays, which JSON Schema's `object` already does, but the converter would otherwise stop
 * at it and lose X. Only the converter sees this copy; validation uses the original.
 */
function unguarded(schema: AnySchema): AnySchema {
  const node = schema as unknown as SchemaNode;
  const pipe = node.pipe as SchemaNode[] | undefined;
  if (pipe && pipe[0] === (jsonObject as unknown)) {
    const at = pipe.findIndex((item, index) => index > 0 && isSchema(item));
    if (at === -1) return jsonObject;
    const rest = pipe.slice(at + 1);
    return unguarded((rest.length > 0 ? { ...pipe[at], pipe: [pipe[at], ...rest] } : pipe[at]) as unknown as AnySchema);
  }
  const mapped = (value: unknown): unknown => {
    if (isSchema(value)) return unguarded(value as unknown as AnySchema);
    return Array.isArray(value) ? value.map(mapped) : value;
  };
  const copy: SchemaNode = { ...node };
  for (const key of CHILD_KEYS) if (key in node) copy[key] = mapped(node[key]);
  if (node.entries && typeof node.entries === 'object') {
    copy.entries = Object.fromEntries(Object.entries(node.entries).map(([name, entry]) => [name, mapped(entry)]));
  }
  // Leaves stay themselves, so identity checks (jsonObject above) still hold.
  return (Object.keys(copy).some((key) => copy[key] !== node[key]) ? copy : node) as unknown as AnySchema;
}

/** Where valibot schemas keep their child schemas. */
const CHILD_KEYS = ['item', 'wrapped', 'key', 'value', 'rest', 'options', 'items', 'pipe'] as const;

/** Adds each README call to the operation that answers it: parameter and body examples, and the curl line. */
function attachReadmeCalls(families: readonly RoutedFamily[], operations: ReadonlyMap<Route, Operation>): void {
  const routers = families.map((family) => new Router(family.routes, ''));
  README_CALLS.forEach((call, index) => {
    const url = new URL(call.url, 'http://localhost');
    const match = routers.map((router) => matchOrUndefined(router, call.method, url.pathname)).find(Boolean);
    if (!match) return;
    const operation = operations.get(match.route)!;
    const examples = { ...match.params, ...Object.fromEntries(url.searchParams) };
    for (const parameter of operation.parameters ?? []) {
      if (parameter.name in examples) parameter.example ??= examples[parameter.name];
    }
    const body = operation.requestBody?.content['application/json'];
    if (body && call.body !== undefined) (body.examples ??= {})[`readme${index + 1}`] = { summary: call.summary, value: call.body };
    (operation['x-codeSamples'] ??= []).push({ lang: 'Shell', label: 'curl (README)', source: `# ${call.summary}\n${curlCommand(call)}` });
  });
}

function matchOrUndefined(router: Router, method: ReadmeCall['method'], pathname: string) {
  try {
    return router.match(method, pathname);
  } catch (error) {
    if (error instanceof HttpError) return undefined;
    throw error;
  }
}
