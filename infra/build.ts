/**
 * `npm run build`: one esbuild bundle per family in `dist/<function>/` (bundle.js and its source
 * map; lazy.js, the packages it loads only on first use; index.js, the loader that runs the bundle
 * with its V8 code cache, bundle.cache; and a package.json pinning the exact versions of the
 * packages left external), then the size of each bundle. The Functions Framework is always
 * external: a bundled copy would register the function in a registry the runtime never reads.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { FAMILIES } from '../functions/registry';
import { writeDocsArtifacts } from '../functions/docs/local';
import type { Family } from '../shared/http/routes';

const ROOT = join(__dirname, '..');
export const DIST = join(ROOT, 'dist');
const FRAMEWORK = '@google-cloud/functions-framework';

/**
 * Only the framework is left external (installed by the Cloud Functions build). The Google client
 * libraries are bundled too: a cold start then reads one file instead of resolving and compiling
 * hundreds, which measured about a third of their load time (docs/benchmarks.md).
 */
const EXTERNAL = [FRAMEWORK];
const WRITE_CODE_CACHE = '--write-code-cache';

const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  sourcesContent: false,
  keepNames: true,
  external: EXTERNAL,
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * Packages the code loads only with `import()`, on the first request that needs them (a Google ID
 * token, production credentials, an upstream stream, Cloud Storage, BigQuery). They go to a second
 * file, lazy.js, which bundle.js requires at that first use: otherwise a cold start reads and
 * compiles about 800 KiB it does not run, 7-21 ms a start (docs/benchmarks.md). One file for all of
 * them keeps one copy of what they share, as in a single bundle.
 */
export const LAZY_PACKAGES = ['google-auth-library', 'undici', '@google-cloud/storage', '@google-cloud/bigquery'];
const LAZY_FILE = './lazy.js';
const LAZY_NAMESPACE = 'lazy-package';

/** In bundle.js, `import('<lazy package>')` becomes a require of that package's export from lazy.js. */
function lazyPackages(used: Set<string>): Plugin {
  const filter = new RegExp(`^(${LAZY_PACKAGES.map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})$`);
  return {
    name: 'lazy-packages',
    setup(bundle) {
      bundle.onResolve({ filter }, ({ path, kind, importer }) => {
        if (kind !== 'dynamic-import') return { errors: [{ text: `${importer} loads ${path} with a static import; ${path} is in LAZY_PACKAGES, so it must be loaded with import()` }] };
        used.add(path);
        return { path, namespace: LAZY_NAMESPACE };
      });
      bundle.onLoad({ filter: /.*/, namespace: LAZY_NAMESPACE }, ({ path }) => ({ contents: `module.exports = require(${JSON.stringify(LAZY_FILE)})[${JSON.stringify(path)}];`, loader: 'js' }));
      bundle.onResolve({ filter: /^\.\/lazy\.js$/, namespace: LAZY_NAMESPACE }, () => ({ path: LAZY_FILE, external: true }));
    },
  };
}

/** lazy.js: each package the bundle loads lazily, behind a getter, so that using one initialises only it. */
async function buildLazyFile(dir: string, used: Set<string>): Promise<void> {
  const getters = [...used].sort().map((name) => `  get ${JSON.stringify(name)}() { return require(${JSON.stringify(name)}); },`);
  await build({
    stdin: { contents: `module.exports = {\n${getters.join('\n')}\n};\n`, resolveDir: ROOT, sourcefile: 'lazy-packages.js', loader: 'js' },
    outfile: join(dir, LAZY_FILE),
    ...BUNDLE_OPTIONS,
  });
}

export interface BuiltFunction {
  readonly name: string;
  readonly dir: string;
  readonly bytes: number;
  /** Size of lazy.js; 0 when the function loads nothing lazily. */
  readonly lazyBytes: number;
  readonly dependencies: Record<string, string>;
}

export async function buildFunction(family: Family): Promise<BuiltFunction> {
  const dir = join(DIST, family.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'bundle.js');
  const lazy = new Set<string>();
  const result = await build({
    entryPoints: [join(ROOT, 'functions', family.name, 'index.ts')],
    outfile,
    metafile: true,
    plugins: [lazyPackages(lazy)],
    ...BUNDLE_OPTIONS,
  });
  if (lazy.size > 0) await buildLazyFile(dir, lazy);
  const imported = new Set<string>([FRAMEWORK]);
  for (const output of Object.values(result.metafile.outputs)) {
    for (const item of output.imports) if (item.external && !isBuiltin(item.path) && item.path !== LAZY_FILE) imported.add(packageName(item.path));
  }
  // A package that is not installed was an optional require inside a try (node-fetch's `encoding`),
  // which esbuild leaves external; the code runs without it, so the manifest does not ask for it.
  const installed = [...imported].filter((name) => existsSync(join(ROOT, 'node_modules', name, 'package.json')));
  const dependencies = Object.fromEntries(installed.sort().map((name) => [name, installedVersion(name)]));
  const manifest = {
    name: `clio-store-${family.name}`,
    private: true,
    main: 'index.js',
    engines: { node: '>=20' },
    // Cloud Build runs gcp-build after installing the dependencies, with the runtime's Node.
    scripts: { 'gcp-build': `node index.js ${WRITE_CODE_CACHE}` },
    dependencies,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(__dirname, 'code-cache-loader.js'), join(dir, 'index.js'));
  // With this machine's Node; the loader falls back to compiling wherever another Node rejects it.
  execFileSync(process.execPath, ['index.js', WRITE_CODE_CACHE], { cwd: dir, env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none' }, stdio: ['ignore', 'ignore', 'inherit'] });
  return { name: family.name, dir, bytes: statSync(outfile).size, lazyBytes: lazy.size > 0 ? statSync(join(dir, LAZY_FILE)).size : 0, dependencies };
}

function isBuiltin(path: string): boolean {
  return path.startsWith('node:') || builtinModules.includes(path.split('/')[0]);
}

function packageName(path: string): string {
  const parts = path.split('/');
  return path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The exact installed version, which `npm ci` took from the lockfile. */
function installedVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function main(): Promise<void> {
  const built = [];
  for (const family of FAMILIES) built.push(await buildFunction(family));
  // After the docs bundle (whose directory buildFunction empties): openapi.json and the pages' assets.
  writeDocsArtifacts(DIST, FAMILIES);
  for (const fn of built) {
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(1).padStart(8)} KiB`;
    process.stdout.write(`dist/${fn.name.padEnd(18)} ${kib(fn.bytes)}, lazy.js ${kib(fn.lazyBytes)}   external: ${Object.keys(fn.dependencies).join(', ')}\n`);
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  });
}
