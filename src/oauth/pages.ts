// The hosted login, consent and error pages: plain, accessible HTML that works without JavaScript.
import type { FastifyReply } from 'fastify';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => escapes[c]!);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input[type=email], input[type=password], input[type=text] { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #8a93a6; border-radius: 4px; }
  button { margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; border-radius: 4px; border: 1px solid #1f4fd1; background: #1f4fd1; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #1f4fd1; margin-left: .5rem; }
  button:focus, input:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
  .error { background: #fdecea; border-left: 4px solid #b3261e; padding: .75rem; margin: 1rem 0; }
  ul.scopes { padding-left: 1.2rem; } ul.scopes code { font-weight: 600; }
  .hint { color: #4a5262; font-size: .9rem; margin: .25rem 0 0; }
  code.secret, ul.codes code { font-size: 1.05rem; letter-spacing: .05em; }
  ul.codes { padding-left: 1.2rem; } ul.codes code { white-space: nowrap; } .qr svg { display: block; margin: .5rem 0; }
  a:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
`;

/** Security headers of every hosted page: no framing (clickjacking), no caching, no referrer leaks. */
export function send(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Tessera</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body>
</html>`);
}

export function errorBox(message: string | undefined): string {
  return message ? `<div class="error" role="alert" id="form-error">${esc(message)}</div>` : '';
}

export interface LoginPage {
  appName: string;
  requestId: string;
  csrfToken: string;
  email?: string;
  error?: string;
  /** The tenant's enabled identity providers (README "Federation"): a button each. */
  providers?: Array<{ id: string; name: string }>;
  /** False when the tenant turned local passwords off (federation required). Default true. */
  passwords?: boolean;
}

export function renderLogin(reply: FastifyReply, page: LoginPage, status = 200): FastifyReply {
  const hidden = `  <input type="hidden" name="request_id" value="${esc(page.requestId)}">
  <input type="hidden" name="csrf_token" value="${esc(page.csrfToken)}">`;
  const described = page.error ? ' aria-describedby="form-error"' : '';
  const passwordForm = `<form method="post" action="/v1/oauth/login"${described}>
${hidden}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${esc(page.email ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`;
  const providers = page.providers ?? [];
  const passwords = page.passwords ?? true;
  if (!providers.length && passwords) return send(reply, status, 'Sign in', `<h1>Sign in to continue to ${esc(page.appName)}</h1>\n${errorBox(page.error)}\n${passwordForm}`);
  // Federation (README "Federation"): a button per identity provider, and the email first (home-realm discovery: its
  // domain may belong to one of them); the password form once the email is known to have none.
  const buttons = providers.length
    ? `<form method="post" action="/v1/oauth/login" aria-label="Sign in with your organisation">
${hidden}
${providers.map((p) => `  <div><button type="submit" name="provider" value="${esc(p.id)}">Sign in with ${esc(p.name)}</button></div>`).join('\n')}
</form>
<p>Or continue with your email:</p>`
    : '';
  const emailForm = `<form method="post" action="/v1/oauth/login"${described}>
${hidden}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required aria-describedby="email-hint" value="${esc(page.email ?? '')}">
  <p class="hint" id="email-hint">${passwords ? 'If your organisation signs you in elsewhere, you will be sent there.' : 'Your organisation signs you in through its identity provider.'}</p>
  <button type="submit">Continue</button>
</form>`;
  const form = passwords && page.email ? passwordForm : emailForm;
  return send(reply, status, 'Sign in', `<h1>Sign in to continue to ${esc(page.appName)}</h1>\n${errorBox(page.error)}\n${buttons}\n${form}`);
}

export interface ConsentPage {
  appName: string;
  userEmail: string;
  requestId: string;
  csrfToken: string;
  scopes: Array<{ name: string; description: string }>;
}

export function renderConsent(reply: FastifyReply, page: ConsentPage): FastifyReply {
  const items = page.scopes.map((s) => `<li><code>${esc(s.name)}</code>: ${esc(s.description)}</li>`).join('\n    ');
  return send(
    reply,
    200,
    'Allow access',
    `<h1>Allow ${esc(page.appName)} to access your account?</h1>
<p>Signed in as <strong>${esc(page.userEmail)}</strong>. ${esc(page.appName)} asks to:</p>
<ul class="scopes" aria-label="Requested permissions">
    ${items}
</ul>
<form method="post" action="/v1/oauth/consent">
  <input type="hidden" name="request_id" value="${esc(page.requestId)}">
  <input type="hidden" name="csrf_token" value="${esc(page.csrfToken)}">
  <button type="submit" name="decision" value="approve">Allow</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export function renderError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return send(reply, status, 'Cannot continue', `<h1>This request cannot continue</h1>\n${errorBox(message)}\n<p>Go back to the application and try again.</p>`);
}

export interface LogoutConfirmPage {
  /** The app that asked, when it named itself. */
  appName: string | null;
  /** The logout request's parameters, posted back with the confirmation. */
  fields: Record<string, string>;
  csrfToken: string;
}

/** RP-Initiated Logout 1.0 section 6: a logout nobody vouched for is confirmed by the user. */
export function renderLogoutConfirm(reply: FastifyReply, page: LogoutConfirmPage): FastifyReply {
  const hidden = Object.entries(page.fields)
    .map(([name, value]) => `  <input type="hidden" name="${esc(name)}" value="${esc(value)}">`)
    .join('\n');
  const asker = page.appName ? `${esc(page.appName)} asks to sign you out of Tessera.` : 'An application asks to sign you out of Tessera.';
  return send(
    reply,
    200,
    'Sign out',
    `<h1>Sign out of Tessera?</h1>
<p>${asker} You will have to sign in again the next time an application sends you here.</p>
<form method="post" action="/v1/oauth/logout">
${hidden}
  <input type="hidden" name="csrf_token" value="${esc(page.csrfToken)}">
  <button type="submit" name="decision" value="logout">Sign out</button>
</form>`,
  );
}

export function renderSignedOut(reply: FastifyReply, page: { appName: string | null; notReturned: boolean }): FastifyReply {
  // Said when the app asked to be returned to an address it never registered: the user knows why they stay here.
  const note = page.notReturned ? `\n<p>${page.appName ? esc(page.appName) : 'The application'} asked to be sent back to an address it has not registered, so you stay on this page.</p>` : '';
  return send(reply, 200, 'Signed out', `<h1>You are signed out</h1>\n<p>You have signed out of Tessera. You can close this window.</p>${note}`);
}
