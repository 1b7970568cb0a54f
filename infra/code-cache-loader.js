// The deployed index.js of every function (infra/build.ts copies it next to the bundle). It runs
// bundle.js, the function's esbuild bundle, as a CommonJS module, compiled with the V8 code cache
// in bundle.cache when this Node accepts it: a cold start then skips most of compiling the bundle
// (docs/benchmarks.md). `node index.js --write-code-cache` writes the cache; the build runs it, and
// so does Cloud Build (the package's gcp-build script) with the runtime's own Node, whose V8 would
// reject a cache written by another version. A missing or rejected cache only costs the compile.
// Node maps stack traces (--enable-source-maps) only for what its module loader compiled, so with
// source maps on, the bundle is required as a plain module, without the cache.
'use strict';
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { createRequire, Module } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, 'bundle.js');
const CACHE = join(__dirname, 'bundle.cache');
/** The discard port: closed on build machines, so the warm-up's call fails without reaching anything. */
const WARM_UP_PORT = 9;
/** Long enough for the warm-up's first call to load the client; the call itself is never awaited. */
const WARM_UP_MS = 1500;

/** Compiles the bundle as a module body. */
function compileBundle(cachedData) {
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(BUNDLE, 'utf8')}\n})`;
  return new Script(source, { filename: BUNDLE, cachedData });
}

/** Runs the compiled bundle as a module whose exports become ours. */
function runBundle(script) {
  const bundle = new Module(BUNDLE, module);
  bundle.filename = BUNDLE;
  script.runInThisContext().call(bundle.exports, bundle.exports, createRequire(BUNDLE), bundle, BUNDLE, __dirname);
  module.exports = bundle.exports;
}

if (require.main === module && process.argv.includes('--write-code-cache')) {
  // The cache holds what ran before it is written: the bundle's top level, then its warm-up (the
  // Firestore client's first call, which loads and compiles most of what a first request needs),
  // pointed at a closed local port so that no database is reached. A build must not fail for a
  // cache, so whatever throws here still leaves the cache of what compiled.
  process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${WARM_UP_PORT}`;
  process.env.METADATA_SERVER_DETECTION = 'none';
  const script = compileBundle(undefined);
  const write = () => {
    writeFileSync(CACHE, script.createCachedData());
    process.exit(0);
  };
  try {
    runBundle(script);
    module.exports.warmUp?.();
    setTimeout(write, WARM_UP_MS);
  } catch (error) {
    process.stderr.write(`loading the bundle to fill its code cache stopped early: ${error}\n`);
    write();
  }
} else if (process.sourceMapsEnabled) {
  notice('source maps are enabled');
  module.exports = require(BUNDLE);
} else {
  const cachedData = existsSync(CACHE) ? readFileSync(CACHE) : undefined;
  const script = compileBundle(cachedData);
  if (cachedData === undefined) notice('there is no bundle.cache');
  else if (script.cachedDataRejected) notice(`Node ${process.version} rejected bundle.cache`);
  runBundle(script);
}

/** One log line at start, so that a deployment shows when its cold starts compile in full. */
function notice(why) {
  process.stdout.write(`${JSON.stringify({ severity: 'NOTICE', message: `code cache not used: ${why}; the bundle was compiled in full` })}\n`);
}
