/**
 * The docs outside the deployed bundle: the local server's in-process source, and the files
 * `npm run build` writes for the deployed function. Neither runs inside the docs bundle, which
 * therefore carries no other family's code.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RoutedFamily } from '../../shared/http/routes';
import packageJson from '../../package.json';
import { type DocsAsset, DOCS_ASSETS, OPENAPI_FILE } from './assets';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi';
import { docs, docsFamily } from './routes';
import type { DocsSource } from './sources';

export function serviceDocument(families: readonly RoutedFamily[]): OpenApiDocument {
  return buildOpenApiDocument(families, { version: packageJson.version });
}

/** An asset's file inside its installed npm package. */
export function packageAssetPath(asset: DocsAsset): string {
  return join(dirname(require.resolve(`${asset.packageName}/package.json`)), asset.file);
}

/** The document generated (once, on first use) from `families`; assets straight from node_modules. */
export function inProcessSource(families: readonly RoutedFamily[]): DocsSource {
  let document: Promise<OpenApiDocument> | undefined;
  return {
    document: () => (document ??= Promise.resolve().then(() => serviceDocument(families))),
    assetPath: packageAssetPath,
  };
}

/** `families` with the deployed docs family swapped for one that documents these very families. */
export function withInProcessDocs(families: readonly RoutedFamily[]): RoutedFamily[] {
  return families.map((family) => (family === docs ? docsFamily(inProcessSource(families)) : family));
}

/** Writes `dist/openapi.json`, and the document and browser assets into the docs bundle's directory. */
export function writeDocsArtifacts(dist: string, families: readonly RoutedFamily[]): void {
  const text = `${JSON.stringify(serviceDocument(families), null, 2)}\n`;
  writeFileSync(join(dist, OPENAPI_FILE), text);
  const dir = join(dist, docs.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, OPENAPI_FILE), text);
  for (const asset of DOCS_ASSETS) copyFileSync(packageAssetPath(asset), join(dir, asset.name));
}
