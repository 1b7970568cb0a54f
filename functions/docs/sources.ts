/**
 * Where the docs function gets its OpenAPI document and browser files. Deployed, both sit
 * beside the bundle (written by `npm run build`), so the function carries no other family's
 * code; the local server injects a source that generates the document in-process instead.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DocsAsset, OPENAPI_FILE } from './assets';
import type { OpenApiDocument } from './openapi';

export interface DocsSource {
  /** The document as built, without `servers` (the docs function adds its URL prefix). */
  document(): Promise<OpenApiDocument>;
  /** The file holding a browser asset. */
  assetPath(asset: DocsAsset): string;
}

/** The deployed source: `openapi.json` and the assets in `dir`, the bundle's own directory. */
export function bundledSource(dir: string): DocsSource {
  let document: Promise<OpenApiDocument> | undefined;
  return {
    document: () => (document ??= readFile(join(dir, OPENAPI_FILE), 'utf8').then((text) => JSON.parse(text))),
    assetPath: (asset) => join(dir, asset.name),
  };
}
