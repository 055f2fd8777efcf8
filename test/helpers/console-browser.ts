// The console in a real browser: Debian's Chromium driven by playwright-core (JavaScript on, as the console's copy
// buttons use it), against a Tessera listening on 127.0.0.1 whose issuer is its own address. Signs in each role the
// way a person does, checks each page with axe-core (no serious or critical violation) and writes a screenshot of it
// to test-results/console-screenshots/ (CI lists them in its log).
import { AxeBuilder } from '@axe-core/playwright';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Harness } from './harness.js';
import { startListeningTessera, type ListeningTessera } from './listening.js';

const CHROMIUM = '/usr/bin/chromium';
// No network but loopback here: nothing in the background may try to go out.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'console-screenshots');

export interface ConsoleBrowser {
  server: ListeningTessera;
  url: string;
  browser: Browser;
  /** A fresh browser context (its own cookies): one person. */
  person(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function startConsoleBrowser(h: Harness, options: Parameters<typeof startListeningTessera>[1] = {}): Promise<ConsoleBrowser> {
  const server = await startListeningTessera(h, options);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const contexts: BrowserContext[] = [];
  return {
    server,
    url: server.url,
    browser,
    async person() {
      const context = await browser.newContext({ baseURL: server.url, permissions: ['clipboard-read', 'clipboard-write'] });
      contexts.push(context);
      return { context, page: await context.newPage() };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await server.close();
    },
  };
}

/** A tenant admin (or member) signs in: the organisation, then the hosted login page. */
export async function signInToTenant(page: Page, slug: string, email: string, password: string): Promise<void> {
  await page.goto('/console');
  await page.getByLabel('Organisation').fill(slug);
  await page.getByRole('button', { name: 'Continue' }).click();
  await signInOnHostedPage(page, email, password);
}

/** An operator signs in, through the operators' tenant. */
export async function signInAsOperator(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/console');
  await page.getByRole('link', { name: 'Sign in as an operator' }).click();
  await signInOnHostedPage(page, email, password);
}

/** A partner signs in as its app. */
export async function signInAsPartner(page: Page, clientId: string, secret: string): Promise<void> {
  await page.goto('/console');
  await page.getByLabel('Client id').fill(clientId);
  await page.getByLabel('Client secret').fill(secret);
  await page.getByRole('button', { name: 'Sign in as the app' }).click();
}

async function signInOnHostedPage(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  const passwordField = page.getByLabel('Password');
  // With identity providers the email comes first (home-realm discovery), then the password.
  if (!(await passwordField.isVisible().catch(() => false))) await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/\/console\//);
}

/** The page passes axe-core with no serious or critical violation; its screenshot is written as `name`.png. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`), `axe on ${name}`).toEqual([]);
}
