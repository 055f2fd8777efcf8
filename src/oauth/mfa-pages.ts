// The hosted second-factor pages (README "MFA"): a code after the password, the enrolment of an authenticator, and
// its recovery codes, shown once. Plain HTML like the other hosted pages (pages.ts), under the same strict
// Content-Security-Policy: the QR code is inline SVG drawn here on the server, no image source and no script.
import type { FastifyReply } from 'fastify';
import qrcode from 'qrcode-generator';
import { errorBox, esc, send } from './pages.js';
import type { SecondFactorPage } from './second-factor.js';

export interface MfaPageFields {
  requestId: string;
  csrfToken: string;
  error?: string;
}

/** Modules of white around the code, as ISO/IEC 18004 asks (four), so that a dark page does not confuse a scanner. */
const QUIET_ZONE = 4;

/** A QR code of `text` as SVG: one path of the dark modules, row by row in runs. */
export function qrSvg(text: string, label: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const size = count + 2 * QUIET_ZONE;
  let path = '';
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (!qr.isDark(row, col)) continue;
      let run = 1;
      while (col + run < count && qr.isDark(row, col + run)) run++;
      path += `M${col + QUIET_ZONE} ${row + QUIET_ZONE}h${run}v1h-${run}z`;
      col += run - 1;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="200" height="200" role="img" aria-label="${esc(label)}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
}

/** A base32 secret in groups of four, as people copy it (authenticator apps ignore the spaces). */
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?!$)/g, '$1 ');
}

function form(fields: MfaPageFields, inner: string, button: string): string {
  return `<form method="post" action="/v1/oauth/mfa"${fields.error ? ' aria-describedby="form-error"' : ''}>
  <input type="hidden" name="request_id" value="${esc(fields.requestId)}">
  <input type="hidden" name="csrf_token" value="${esc(fields.csrfToken)}">
${inner}  <button type="submit">${esc(button)}</button>
</form>`;
}

export function renderSecondFactor(reply: FastifyReply, page: SecondFactorPage, fields: MfaPageFields, status = 200): FastifyReply {
  if (page.step === 'verify') {
    return send(
      reply,
      status,
      'Verification code',
      `<h1>Enter your verification code</h1>
${errorBox(fields.error)}
<p>You are signing in as <strong>${esc(page.email)}</strong>. Open your authenticator app and enter the code it shows for Tessera.</p>
${form(
  fields,
  `  <label for="code">Verification code</label>
  <input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" required aria-describedby="code-hint">
  <p id="code-hint" class="hint">The 6-digit code from your authenticator app, or one of your recovery codes if you have lost it.</p>
`,
  'Verify',
)}`,
    );
  }
  if (page.step === 'enrol') {
    return send(
      reply,
      status,
      'Set up two-step verification',
      `<h1>Set up two-step verification</h1>
${errorBox(fields.error)}
<p>Your organisation asks for a code from an authenticator app each time <strong>${esc(page.email)}</strong> signs in. Set one up now.</p>
<ol class="steps">
  <li>Scan this QR code with your authenticator app:
    <div class="qr">${qrSvg(page.uri, 'QR code of your authenticator key')}</div>
  </li>
  <li>Or enter this key in the app by hand (time-based, 6 digits): <code id="totp-secret" class="secret">${esc(grouped(page.secret))}</code>.
    On this device, you can also <a href="${esc(page.uri)}">open the setup link in your authenticator app</a>.</li>
  <li>Enter the code the app now shows, to confirm it is set up.</li>
</ol>
${form(
  fields,
  `  <label for="code">Code from the app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
`,
  'Confirm',
)}`,
    );
  }
  const codes = page.recoveryCodes
    ? `<p>Two-step verification is on. If you lose your authenticator, each of these recovery codes signs you in once, in place of a code from the app. Save them somewhere safe now: they are not shown again.</p>
<ul class="codes" aria-label="Recovery codes">
${page.recoveryCodes.map((code) => `  <li><code>${esc(code)}</code></li>`).join('\n')}
</ul>`
    : '<p>Two-step verification is on. Your recovery codes were shown when you set it up.</p>';
  const heading = page.recoveryCodes ? 'Save your recovery codes' : 'Two-step verification is on';
  return send(reply, status, heading, `<h1>${heading}</h1>\n${errorBox(fields.error)}\n${codes}\n${form(fields, '', 'Continue')}`);
}
