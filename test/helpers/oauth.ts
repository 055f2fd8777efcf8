// A cookie-keeping browser over app.inject, for driving the hosted login and consent pages by HTTP.
import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { bearer, CODE_APP, type Harness, type RegisteredApp, type TenantFixture } from './harness.js';

export { tokenRequest } from './harness.js';

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly h: Harness) {}

  private remember(res: LightMyRequestResponse) {
    for (const c of res.cookies as Array<{ name: string; value: string; maxAge?: number }>) {
      if (c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return res;
  }

  private cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string) {
    return this.remember(await this.h.request({ method: 'GET', url, headers: { cookie: this.cookieHeader() } }));
  }

  async post(url: string, fields: Record<string, string>) {
    return this.remember(
      await this.h.request({
        method: 'POST',
        url,
        headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      }),
    );
  }
}

/** The hidden fields of the first form on a page. */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replace(/&amp;/g, '&');
  return fields;
}

export type CodeApp = RegisteredApp;

/** An authorization code app of the tenant (CODE_APP, with `overrides`). */
export function registerCodeApp(h: Harness, tenant: TenantFixture, overrides: object = {}): Promise<CodeApp> {
  return h.registerApp(tenant, { ...CODE_APP, ...overrides });
}

export async function createUser(h: Harness, tenant: TenantFixture, email: string, password = 'a long enough password'): Promise<void> {
  const res = await h.request({ method: 'POST', url: '/v1/platform/users', headers: bearer(tenant.adminToken), payload: { email, password } });
  expect(res.statusCode).toBe(201);
}

export function authorizeUrl(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined) as Array<[string, string]>);
  return `/v1/oauth/authorize?${query}`;
}

/** Logs in and consents; returns the final redirect's URL. */
export async function loginAndConsent(browser: Browser, authorize: string, email: string, password: string): Promise<URL> {
  const loginPage = await browser.get(authorize);
  expect(loginPage.statusCode).toBe(200);
  const afterLogin = await browser.post('/v1/oauth/login', { ...hiddenFields(loginPage.body), email, password });
  let response = afterLogin;
  if (afterLogin.statusCode === 303 && afterLogin.headers.location!.startsWith('/v1/oauth/consent')) {
    const consentPage = await browser.get(afterLogin.headers.location!);
    expect(consentPage.statusCode).toBe(200);
    response = await browser.post('/v1/oauth/consent', { ...hiddenFields(consentPage.body), decision: 'approve' });
  }
  expect([302, 303]).toContain(response.statusCode);
  return new URL(response.headers.location!);
}
