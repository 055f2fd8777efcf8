// The hosted login, consent and error pages: plain, accessible HTML that works without JavaScript.
import type { FastifyReply } from 'fastify';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => escapes[c]!);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input[type=email], input[type=password] { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #8a93a6; border-radius: 4px; }
  button { margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; border-radius: 4px; border: 1px solid #1f4fd1; background: #1f4fd1; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #1f4fd1; margin-left: .5rem; }
  button:focus, input:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
  .error { background: #fdecea; border-left: 4px solid #b3261e; padding: .75rem; margin: 1rem 0; }
  ul.scopes { padding-left: 1.2rem; } ul.scopes code { font-weight: 600; }
`;

/** Security headers of every hosted page: no framing (clickjacking), no caching, no referrer leaks. */
function send(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
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

function errorBox(message: string | undefined): string {
  return message ? `<div class="error" role="alert" id="form-error">${esc(message)}</div>` : '';
}

export interface LoginPage {
  appName: string;
  requestId: string;
  csrfToken: string;
  email?: string;
  error?: string;
}

export function renderLogin(reply: FastifyReply, page: LoginPage, status = 200): FastifyReply {
  return send(
    reply,
    status,
    'Sign in',
    `<h1>Sign in to continue to ${esc(page.appName)}</h1>
${errorBox(page.error)}
<form method="post" action="/v1/oauth/login"${page.error ? ' aria-describedby="form-error"' : ''}>
  <input type="hidden" name="request_id" value="${esc(page.requestId)}">
  <input type="hidden" name="csrf_token" value="${esc(page.csrfToken)}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${esc(page.email ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`,
  );
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
