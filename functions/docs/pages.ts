/**
 * The HTML pages: the home page, Swagger UI and ReDoc. Every link carries the URL prefix, and
 * every script and stylesheet comes from the docs function itself.
 */
import { assetPath } from './assets';
import { counted } from '../../shared/english';
import type { OpenApiDocument } from './openapi';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A value for an inline script; `<` is escaped so no string can close the script element. */
const scriptValue = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

function page(title: string, prefix: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" type="image/png" href="${escapeHtml(assetPath(prefix, 'favicon.png'))}">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

export function homePage(document: OpenApiDocument, prefix: string): string {
  const counts = new Map<string, number>();
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) for (const tag of operation.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  const families = document.tags
    .map((tag) => `<li><a href="${escapeHtml(`${prefix}/docs#/${tag.name}`)}">${escapeHtml(tag.name)}</a> (${counted(counts.get(tag.name) ?? 0, 'operation')})</li>`)
    .join('\n');
  const link = (path: string, text: string) => `<a href="${escapeHtml(`${prefix}${path}`)}">${text}</a>`;
  return page(
    'Clio Store',
    prefix,
    '<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}code{background:#f3f3f3;padding:0 .2em}</style>',
    `<h1>Clio Store</h1>
<p>Clio Store is the HTTP API behind Clio: it manages logins, datasets and annotations for large electron-microscopy
(connectomics) datasets, with per-dataset read and write roles. Calls need <code>Authorization: Bearer &lt;token&gt;</code>
with a Google ID token or a FlyEM token.</p>
<p>Version <strong>${escapeHtml(document.info.version)}</strong></p>
<h2>API documentation</h2>
<ul>
<li>${link('/docs', 'Interactive API documentation')} (Swagger UI: read every endpoint and call it from the page)</li>
<li>${link('/redoc', 'API reference')} (ReDoc)</li>
<li>${link('/openapi.json', 'OpenAPI document')} (<code>openapi.json</code>)</li>
</ul>
<h2>Resource families</h2>
<ul>
${families}
</ul>`,
  );
}

export function swaggerPage(prefix: string): string {
  const config = {
    url: `${prefix}/openapi.json`,
    dom_id: '#swagger-ui',
    deepLinking: true,
    // The default would fetch a badge from validator.swagger.io; the page must work offline.
    validatorUrl: null,
    persistAuthorization: true,
    displayRequestDuration: true,
  };
  return page(
    'Clio Store API: Swagger UI',
    prefix,
    `<link rel="stylesheet" href="${escapeHtml(assetPath(prefix, 'swagger-ui.css'))}">`,
    `<div id="swagger-ui"></div>
<script src="${escapeHtml(assetPath(prefix, 'swagger-ui-bundle.js'))}"></script>
<script>window.ui = SwaggerUIBundle(${scriptValue(config)});</script>`,
  );
}

export function redocPage(prefix: string): string {
  return page(
    'Clio Store API: ReDoc',
    prefix,
    '<style>body{margin:0}</style>',
    `<redoc spec-url="${escapeHtml(`${prefix}/openapi.json`)}"></redoc>
<script src="${escapeHtml(assetPath(prefix, 'redoc.standalone.js'))}"></script>`,
  );
}
