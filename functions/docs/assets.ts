/**
 * The browser files the documentation pages load, taken from npm packages (never a CDN, so the
 * pages work offline). The build copies them next to the docs bundle; the local server reads
 * them from node_modules. All are served flat under `/docs/assets/<version>/<name>`, where the
 * version names the pinned packages, so a URL's content never changes and may be cached for long.
 */
import packageJson from '../../package.json';

export interface DocsAsset {
  /** The name it is served and copied under. */
  readonly name: string;
  /** The npm package holding it, and its path inside that package. */
  readonly packageName: string;
  readonly file: string;
  readonly contentType: string;
}

export const DOCS_ASSETS: readonly DocsAsset[] = [
  { name: 'swagger-ui.css', packageName: 'swagger-ui-dist', file: 'swagger-ui.css', contentType: 'text/css; charset=utf-8' },
  { name: 'swagger-ui-bundle.js', packageName: 'swagger-ui-dist', file: 'swagger-ui-bundle.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'favicon.png', packageName: 'swagger-ui-dist', file: 'favicon-32x32.png', contentType: 'image/png' },
  { name: 'redoc.standalone.js', packageName: 'redoc', file: 'bundles/redoc.standalone.js', contentType: 'text/javascript; charset=utf-8' },
];

export const ASSETS_PATH = '/docs/assets';

/** Changes whenever a package the assets come from changes version. */
export const ASSETS_VERSION = `swagger-ui-dist-${packageJson.dependencies['swagger-ui-dist']}_redoc-${packageJson.dependencies.redoc}`;

/** The URL path of an asset, below the URL prefix. */
export const assetPath = (prefix: string, name: string) => `${prefix}${ASSETS_PATH}/${ASSETS_VERSION}/${name}`;

/** Where the docs function finds the built OpenAPI document, beside its bundle. */
export const OPENAPI_FILE = 'openapi.json';
