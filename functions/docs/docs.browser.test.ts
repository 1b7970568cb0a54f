/**
 * The docs pages in a real browser: Debian's headless Chromium, driven by playwright-core.
 * Chromium is required (CI installs it): without it this file fails rather than skips.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../../shared/testing/harness';
import type { OpenApiDocument } from './openapi';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let svc: TestService;
let browser: BrowserContext;
let profile: string;
let document: OpenApiDocument;
/** Every request a page sent anywhere but this service: there must be none. */
const foreign: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y --no-install-recommends chromium); .ci/run does this`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  // Requests without a token act as the owner, so "Try it out" needs no Authorize step.
  svc = await startTestService({ TEST_USER: 'owner@test.org' });
  document = (await svc.request('GET', '/openapi.json')).json;
  profile = mkdtempSync(join(tmpdir(), 'clio-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  // As with no internet: anything bound elsewhere is refused, and remembered.
  await browser.route(
    (url) => url.origin !== new URL(svc.url).origin,
    (request) => {
      foreign.push(request.request().url());
      return request.abort('internetdisconnected');
    },
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await svc?.close();
});

const operationCount = () => Object.values(document.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);

/** Opens a page; `errors` collects its uncaught script errors, checked at the end of each test. */
async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const response = await page.goto(`${svc.url}${path}`);
  expect(response?.status()).toBe(200);
  return { page, errors };
}

describe('in headless Chromium', () => {
  it('Swagger UI at /docs renders every operation under its family tag, and "Try it out" on GET /v2/roles returns 200', async () => {
    const { page, errors } = await open('/docs');
    await expect.poll(() => page.locator('.opblock').count(), { timeout: 20_000 }).toBe(operationCount());
    for (const tag of document.tags) await expect.poll(() => page.locator(`.opblock-tag[data-tag="${tag.name}"]`).isVisible(), { message: tag.name }).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'docs-swagger.png'), fullPage: false });

    const roles = page.locator('#operations-users-get_v2_roles');
    await roles.locator('.opblock-summary').click();
    await roles.getByRole('button', { name: 'Try it out' }).click();
    await roles.getByRole('button', { name: 'Execute' }).click();
    const response = roles.locator('.live-responses-table tr.response');
    await expect.poll(() => response.locator('.response-col_status').textContent(), { timeout: 15_000 }).toBe('200');
    expect(await response.locator('.response-col_description').textContent()).toContain('"email": "owner@test.org"');
    await roles.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'docs-swagger-try-it-out.png') });
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);

  it('ReDoc at /redoc renders every operation and every family tag', async () => {
    const { page, errors } = await open('/redoc');
    await expect.poll(() => page.locator('[data-section-id^="operation/"]').count(), { timeout: 20_000 }).toBe(operationCount());
    const menu = page.locator('.menu-content');
    for (const tag of document.tags) {
      await expect.poll(() => menu.getByText(tag.name, { exact: true }).first().isVisible(), { message: tag.name }).toBe(true);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'docs-redoc.png') });
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);

  it('the home page links to the docs, and no page reached for anything beyond this service', async () => {
    const { page, errors } = await open('/');
    await page.getByRole('link', { name: 'Interactive API documentation' }).click();
    await page.waitForURL(`${svc.url}/docs`);
    await page.screenshot({ path: join(ARTIFACTS, 'docs-home-to-swagger.png') });
    await page.close();
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
  }, 60_000);
});
