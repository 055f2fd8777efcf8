// What a partner sees of its own app (README "Console"), signed in with the app's client id and secret: the persisted
// operations it may run, each with both ids (GraphQL over HTTP `documentId` and graphql-codegen's), the scopes it needs
// and whether the bundle version it holds it through is deprecated; the manifests and the partial schema to download,
// for its client build and its editor; and its activity (GraphQL calls, webhook deliveries) in pictures. All of it
// from GET /v1/platform/apps/{client_id}/operations, .../operations/schema and .../activity/*, with the app's own token.
import type { FastifyInstance } from 'fastify';
import { problemOf } from '../api.js';
import { queryOf, type PageContext } from '../context.js';
import { badge, esc, page, pager, table, when } from '../html.js';
import { activitySections, daysOf, daysPicker } from './activity.js';
import { enc, type AreaDeps } from './kit.js';

interface OperationView {
  id: string;
  codegen_id: string;
  name: string;
  type: string;
  required_scopes: string[];
  bundle: string;
  version: string;
  deprecated: boolean;
  deprecated_at: string | null;
  document: string;
}

interface OperationsView {
  client_id: string;
  sandbox: boolean;
  bundles: Array<{ bundle: string; track: string; version: string | null; status: string | null }>;
  operations: OperationView[];
  manifests: { apollo: unknown; documentIds: Record<string, string>; codegenDocumentIds: Record<string, string> };
}

const BASE = '/console/partner/operations';
/** Operations a page lists. */
const PAGE_SIZE = 25;

/** The files a partner downloads: what each holds, its name and its type. */
const DOWNLOADS = [
  { path: 'apollo-manifest.json', label: 'Apollo persisted-query manifest', what: 'for @apollo/client persisted queries (generatePersistedQueryManifest format)', pick: (v: OperationsView) => v.manifests.apollo },
  { path: 'document-ids.json', label: 'documentId map', what: 'operation name to sha256:<hex>, the GraphQL over HTTP documentId', pick: (v: OperationsView) => v.manifests.documentIds },
  { path: 'codegen-document-ids.json', label: 'graphql-codegen documentId map', what: "graphql-codegen's client preset ids (persistedDocuments, sha256)", pick: (v: OperationsView) => v.manifests.codegenDocumentIds },
] as const;

const operationsUrl = (clientId: string) => `/v1/platform/apps/${enc(clientId)}/operations`;

/** A file to save, never shown in the browser (`content-disposition: attachment`), never cached. */
function attachment(context: PageContext, filename: string, type: string, body: string) {
  return context.reply
    .header('content-type', type)
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'no-store')
    .send(body);
}

function unavailable(context: PageContext, status: number, problem: string) {
  return page(context.reply, { title: 'Operations', session: context.session, active: BASE, status, error: problem, body: '<h1>Operations</h1>' });
}

export function registerPartnerPages(app: FastifyInstance, { context }: AreaDeps): void {
  const route = { schema: { hide: true } };

  app.get(
    BASE,
    route,
    context.page(['partner'], async (c) => {
      const { session, api, reply } = c;
      const query = queryOf(c.request);
      const answer = await api.get(operationsUrl(session.clientId));
      if (answer.status !== 200) return unavailable(c, answer.status, problemOf(answer));
      const view = answer.body as OperationsView;
      const days = daysOf(query);
      // The list is bounded by the app's bundles, and paged here like every list of the console.
      const offset = Math.max(0, Math.floor(Number(query.cursor) || 0));
      const shown = view.operations.slice(offset, offset + PAGE_SIZE);
      const next = offset + PAGE_SIZE < view.operations.length ? String(offset + PAGE_SIZE) : null;
      const operations = shown.map((o) => [
        `<strong>${esc(o.name)}</strong><details><summary>Document of ${esc(o.name)}</summary><pre>${esc(o.document)}</pre></details>`,
        esc(o.type),
        `<span class="hint">documentId</span><br><code>${esc(o.id)}</code><br><span class="hint">codegen</span><br><code>${esc(o.codegen_id)}</code>`,
        o.required_scopes.length ? o.required_scopes.map((s) => esc(s)).join(', ') : '–',
        `${esc(o.bundle)}@${esc(o.version)}`,
        o.deprecated ? `${badge('deprecated', 'warn')} <span class="hint">since ${when(o.deprecated_at)}: move to a newer version</span>` : badge('current', 'ok'),
      ]);
      const bundles = view.bundles.map((b) => [esc(b.bundle), b.track === 'latest' ? 'latest (follows new versions)' : `pinned to ${esc(b.track)}`, esc(b.version ?? '–'), b.status ? esc(b.status) : '–']);
      return page(reply, {
        title: 'Operations',
        session,
        active: BASE,
        body: `<h1>Operations</h1>
<p>The persisted GraphQL operations your app <code>${esc(view.client_id)}</code> may run. Send an operation's <code>documentId</code> (or Apollo's <code>sha256Hash</code>, or the codegen id) to <code>POST /graphql</code> with your token and <code>X-Tenant-ID</code>.</p>
${view.sandbox ? '<p class="warning">Your app belongs to a sandbox tenant: these operations serve its sample data.</p>' : ''}
<h2>Bundles</h2>
${table('Bundles the app holds', ['Bundle', 'Track', 'Version', 'Status'], bundles, 'Your app holds no bundle yet: ask for one with an integration request.')}
<h2>Downloads</h2>
<ul>
${DOWNLOADS.map((d) => `<li><a href="${BASE}/${d.path}" download>${esc(d.label)}</a> <span class="hint">${esc(d.what)}</span></li>`).join('\n')}
<li><a href="${BASE}/schema.graphql" download>Partial schema (SDL)</a> <span class="hint">only the types and fields your operations reach, for codegen and editors</span></li>
</ul>
<h2>Operations</h2>
${table('Operations the app may run', ['Operation', 'Type', 'Ids', 'Scopes needed', 'Bundle', 'Deprecation'], operations, 'No operations yet.')}
${pager(BASE, next, { days: String(days) })}
<h2>Activity</h2>
${daysPicker(BASE, days)}
${await activitySections(api, session.clientId, days, '/console/partner/webhooks', 3)}`,
      });
    }),
  );

  for (const download of DOWNLOADS) {
    app.get(
      `${BASE}/${download.path}`,
      route,
      context.page(['partner'], async (c) => {
        const answer = await c.api.get(operationsUrl(c.session.clientId));
        if (answer.status !== 200) return unavailable(c, answer.status, problemOf(answer));
        return attachment(c, `${c.session.clientId}-${download.path}`, 'application/json; charset=utf-8', `${JSON.stringify(download.pick(answer.body as OperationsView), null, 2)}\n`);
      }),
    );
  }

  app.get(
    `${BASE}/schema.graphql`,
    route,
    context.page(['partner'], async (c) => {
      const answer = await c.api.get(`${operationsUrl(c.session.clientId)}/schema`);
      if (answer.status !== 200) return unavailable(c, answer.status, problemOf(answer));
      return attachment(c, `${c.session.clientId}-schema.graphql`, 'text/plain; charset=utf-8', answer.text);
    }),
  );
}
