/**
 * The production front door: a global external Application Load Balancer whose URL map sends
 * every route of the route table to its family's function, through one serverless network
 * endpoint group (NEG) and backend service per function, with a Google-managed certificate for
 * the domain and a plain-HTTP listener that redirects to HTTPS. Everything here is derived from
 * the rewrite table (itself derived from the route declarations), as `gcloud` steps and as a
 * Terraform configuration of the same resources.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAMILIES } from '../functions/registry';
import type { RoutedFamily } from '../shared/http/routes';
import { type Rewrite, rewriteTable } from './rewrites';
import type { Step } from './steps';

export interface FrontDoorOptions {
  readonly project: string;
  readonly region: string;
  readonly domain: string;
  readonly urlPrefix: string;
}

/** Resource names, all prefixed so that the front door's resources are easy to tell apart. */
export const NAMES = {
  address: 'clio-ip',
  urlMap: 'clio-url-map',
  redirectMap: 'clio-http-redirect',
  httpsProxy: 'clio-https-proxy',
  httpProxy: 'clio-http-proxy',
  httpsRule: 'clio-https-rule',
  httpRule: 'clio-http-rule',
  neg: (fn: string) => `clio-neg-${fn}`,
  backend: (fn: string) => `clio-be-${fn}`,
  /** A managed certificate covers fixed domains, so a new domain gets a new certificate. */
  certificate: (domain: string) => `clio-cert-${domain.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`.slice(0, 63),
} as const;

/** The family whose function answers what no path rule claims (its router answers 404). */
export const DEFAULT_FUNCTION = 'docs';

/** The URL map's path rules: for each rewrite, the prefix itself and everything below it. */
export function pathRules(table: readonly Rewrite[]): { paths: string[]; functionName: string }[] {
  const byFunction = new Map<string, string[]>();
  for (const rewrite of table) {
    const bare = rewrite.prefix.replace(/\/+$/, '');
    // The root page matches itself only; `/x/*` does not match `/x`, so both are listed.
    const paths = rewrite.exact ? [...new Set([bare || '/', `${bare}/`])] : [bare, `${bare}/*`];
    byFunction.set(rewrite.functionName, [...(byFunction.get(rewrite.functionName) ?? []), ...paths]);
  }
  return [...byFunction].map(([functionName, paths]) => ({ functionName, paths }));
}

const backendUrl = (project: string, fn: string) =>
  `https://www.googleapis.com/compute/v1/projects/${project}/global/backendServices/${NAMES.backend(fn)}`;

/** The URL map as the Compute API (and `gcloud compute url-maps import`) takes it. */
export function urlMap(families: readonly RoutedFamily[], options: FrontDoorOptions) {
  const fallback = backendUrl(options.project, DEFAULT_FUNCTION);
  return {
    name: NAMES.urlMap,
    defaultService: fallback,
    hostRules: [{ hosts: [options.domain], pathMatcher: 'api' }],
    pathMatchers: [
      {
        name: 'api',
        defaultService: fallback,
        pathRules: pathRules(rewriteTable(families, options.urlPrefix)).map(({ paths, functionName }) => ({
          paths,
          service: backendUrl(options.project, functionName),
        })),
      },
    ],
  };
}

/** The port-80 URL map: every request is redirected to the same URL over HTTPS. */
export const redirectMap = () => ({
  name: NAMES.redirectMap,
  defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: 'MOVED_PERMANENTLY_DEFAULT', stripQuery: false },
});

export const FRONT_DOOR_DIR = 'dist/front-door';

export function frontDoorSteps(families: readonly RoutedFamily[], options: FrontDoorOptions): Step[] {
  const { project, region, domain } = options;
  const global = ['--global', `--project=${project}`];
  const compute = (...args: string[]) => ['gcloud', 'compute', ...args];
  const certificate = NAMES.certificate(domain);
  const forwardingRule = (name: string, target: string, port: number): Step => ({
    kind: 'ensure',
    describe: compute('forwarding-rules', 'describe', name, ...global),
    create: [
      compute('forwarding-rules', 'create', name, '--load-balancing-scheme=EXTERNAL_MANAGED', `--address=${NAMES.address}`, target, `--ports=${port}`, ...global),
    ],
  });
  const steps: Step[] = [
    {
      kind: 'ensure',
      describe: compute('addresses', 'describe', NAMES.address, ...global),
      create: [compute('addresses', 'create', NAMES.address, '--ip-version=IPV4', ...global)],
    },
  ];
  for (const { name } of families) {
    steps.push(
      {
        kind: 'ensure',
        describe: compute('network-endpoint-groups', 'describe', NAMES.neg(name), `--region=${region}`, `--project=${project}`),
        // A gen2 function is a Cloud Run service of the same name.
        create: [
          compute(
            'network-endpoint-groups', 'create', NAMES.neg(name), `--region=${region}`, '--network-endpoint-type=serverless',
            `--cloud-run-service=${name}`, `--project=${project}`,
          ),
        ],
      },
      {
        kind: 'ensure',
        describe: compute('backend-services', 'describe', NAMES.backend(name), ...global),
        create: [
          compute('backend-services', 'create', NAMES.backend(name), '--load-balancing-scheme=EXTERNAL_MANAGED', ...global),
          compute(
            'backend-services', 'add-backend', NAMES.backend(name), `--network-endpoint-group=${NAMES.neg(name)}`,
            `--network-endpoint-group-region=${region}`, ...global,
          ),
        ],
      },
    );
  }
  const mapFile = `${FRONT_DOOR_DIR}/url-map.json`;
  const redirectFile = `${FRONT_DOOR_DIR}/http-redirect.json`;
  steps.push(
    { kind: 'write', path: mapFile, content: `${JSON.stringify(urlMap(families, options), null, 2)}\n` },
    // Import creates the map or replaces it whole, so a route added to a family lands on the next deploy.
    { kind: 'always', run: compute('url-maps', 'import', NAMES.urlMap, `--source=${mapFile}`, '--quiet', ...global) },
    {
      kind: 'ensure',
      describe: compute('ssl-certificates', 'describe', certificate, ...global),
      create: [compute('ssl-certificates', 'create', certificate, `--domains=${domain}`, ...global)],
    },
    {
      kind: 'ensure',
      describe: compute('target-https-proxies', 'describe', NAMES.httpsProxy, ...global),
      create: [compute('target-https-proxies', 'create', NAMES.httpsProxy, `--url-map=${NAMES.urlMap}`, `--ssl-certificates=${certificate}`, ...global)],
      update: [compute('target-https-proxies', 'update', NAMES.httpsProxy, `--url-map=${NAMES.urlMap}`, `--ssl-certificates=${certificate}`, ...global)],
    },
    forwardingRule(NAMES.httpsRule, `--target-https-proxy=${NAMES.httpsProxy}`, 443),
    { kind: 'write', path: redirectFile, content: `${JSON.stringify(redirectMap(), null, 2)}\n` },
    { kind: 'always', run: compute('url-maps', 'import', NAMES.redirectMap, `--source=${redirectFile}`, '--quiet', ...global) },
    {
      kind: 'ensure',
      describe: compute('target-http-proxies', 'describe', NAMES.httpProxy, ...global),
      create: [compute('target-http-proxies', 'create', NAMES.httpProxy, `--url-map=${NAMES.redirectMap}`, ...global)],
    },
    forwardingRule(NAMES.httpRule, `--target-http-proxy=${NAMES.httpProxy}`, 80),
  );
  return steps;
}

/**
 * The same front door as a Terraform configuration (JSON syntax). Project, region and domain are
 * variables; the paths follow the URL prefix it was generated for.
 */
export function terraformConfig(families: readonly RoutedFamily[], urlPrefix: string) {
  const key = (fn: string) => fn.replace(/[^A-Za-z0-9_]/g, '_');
  const backendRef = (fn: string) => `\${google_compute_backend_service.${key(fn)}.id}`;
  const neg: Record<string, unknown> = {};
  const backend: Record<string, unknown> = {};
  for (const { name } of families) {
    neg[key(name)] = {
      name: NAMES.neg(name),
      region: '${var.region}',
      network_endpoint_type: 'SERVERLESS',
      // A gen2 function is a Cloud Run service of the same name.
      cloud_run: { service: name },
    };
    backend[key(name)] = {
      name: NAMES.backend(name),
      load_balancing_scheme: 'EXTERNAL_MANAGED',
      backend: [{ group: `\${google_compute_region_network_endpoint_group.${key(name)}.id}` }],
    };
  }
  return {
    terraform: { required_providers: { google: { source: 'hashicorp/google' } } },
    variable: {
      project: { type: 'string', description: 'Google Cloud project of the functions' },
      region: { type: 'string', description: 'Region the functions are deployed in' },
      domain: { type: 'string', description: 'Domain of the service, e.g. clio-store.example.org (its DNS A record must point at the address output)' },
    },
    provider: { google: { project: '${var.project}', region: '${var.region}' } },
    resource: {
      google_compute_global_address: { clio: { name: NAMES.address, ip_version: 'IPV4' } },
      google_compute_region_network_endpoint_group: neg,
      google_compute_backend_service: backend,
      google_compute_url_map: {
        clio: {
          name: NAMES.urlMap,
          default_service: backendRef(DEFAULT_FUNCTION),
          host_rule: [{ hosts: ['${var.domain}'], path_matcher: 'api' }],
          path_matcher: [
            {
              name: 'api',
              default_service: backendRef(DEFAULT_FUNCTION),
              path_rule: pathRules(rewriteTable(families, urlPrefix)).map(({ paths, functionName }) => ({ paths, service: backendRef(functionName) })),
            },
          ],
        },
        http_redirect: {
          name: NAMES.redirectMap,
          default_url_redirect: [{ https_redirect: true, redirect_response_code: 'MOVED_PERMANENTLY_DEFAULT', strip_query: false }],
        },
      },
      google_compute_managed_ssl_certificate: { clio: { name: 'clio-cert', managed: [{ domains: ['${var.domain}'] }] } },
      google_compute_target_https_proxy: {
        clio: { name: NAMES.httpsProxy, url_map: '${google_compute_url_map.clio.id}', ssl_certificates: ['${google_compute_managed_ssl_certificate.clio.id}'] },
      },
      google_compute_target_http_proxy: { clio: { name: NAMES.httpProxy, url_map: '${google_compute_url_map.http_redirect.id}' } },
      google_compute_global_forwarding_rule: {
        https: {
          name: NAMES.httpsRule,
          load_balancing_scheme: 'EXTERNAL_MANAGED',
          ip_address: '${google_compute_global_address.clio.id}',
          target: '${google_compute_target_https_proxy.clio.id}',
          port_range: '443',
        },
        http: {
          name: NAMES.httpRule,
          load_balancing_scheme: 'EXTERNAL_MANAGED',
          ip_address: '${google_compute_global_address.clio.id}',
          target: '${google_compute_target_http_proxy.clio.id}',
          port_range: '80',
        },
      },
    },
    output: { address: { value: '${google_compute_global_address.clio.address}', description: 'Point the domain\'s A record here' } },
  };
}

export const TERRAFORM_FILE = join(__dirname, 'terraform', 'front-door.tf.json');

export const terraformText = (urlPrefix = '') => `${JSON.stringify(terraformConfig(FAMILIES, urlPrefix), null, 2)}\n`;

if (require.main === module) {
  // URL_PREFIX shapes the path rules of a deployment that uses one.
  writeFileSync(TERRAFORM_FILE, terraformText(process.env.URL_PREFIX ?? ''));
  process.stdout.write(`wrote ${TERRAFORM_FILE}\n`);
}
