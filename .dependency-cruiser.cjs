// The import rules of DESIGN "The shape", checked by `npm run deps` (CI runs it): no cycles; the layers below
// the features (db/, http/, keys/, graphql/, observability/ and the single files at src/) import no feature and nothing above
// them; a feature imports no other feature's entities (features talk through services); nothing below the
// top (app.ts, runtime.ts, modules.ts, main.ts, cli/) imports the top.
const FEATURES = '(audit|tenancy|platform|oauth|incidents|bundles|webhooks|sandboxes|requests|federation|console)';
const LOWER = '^src/(db|http|keys|graphql|observability)/|^src/(errors|config|ids|clock|module|secret-box|reloader)\\.ts$';
const TOP = '^src/(app|runtime|modules|main|serve)\\.ts$|^src/cli/';

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'A cycle of imports: one of these files must not know the other.', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lower-layers-name-no-feature',
      comment: 'db/, http/, keys/, graphql/, observability/ and errors/config/ids/clock/module import no feature folder: a feature declares itself in its module.ts.',
      severity: 'error',
      from: { path: LOWER },
      to: { path: `^src/${FEATURES}/` },
    },
    {
      name: 'no-other-features-entities',
      comment: "A feature reads another feature's data through that feature's service, never through its entities.",
      severity: 'error',
      from: { path: `^src/${FEATURES}/` },
      to: { path: `^src/${FEATURES}/entities\\.ts$`, pathNot: '^src/$1/' },
    },
    {
      name: 'only-the-top-names-the-top',
      comment: 'app.ts, runtime.ts, modules.ts, main.ts, serve.ts and cli/ put Tessera together; nothing they assemble imports them.',
      severity: 'error',
      from: { path: '^src/', pathNot: TOP },
      to: { path: TOP },
    },
    { name: 'db-is-the-bottom', comment: 'db/ knows no HTTP, keys or GraphQL.', severity: 'error', from: { path: '^src/db/' }, to: { path: '^src/(http|keys|graphql)/' } },
    {
      name: 'observability-knows-no-transport',
      comment: 'observability/ (logs, metrics, traces) is used by every layer, so it imports none of them.',
      severity: 'error',
      from: { path: '^src/observability/' },
      to: { path: '^src/(db|http|keys|graphql)/' },
    },
    { name: 'keys-below-the-transports', comment: 'keys/ knows no transport.', severity: 'error', from: { path: '^src/keys/' }, to: { path: '^src/(http|graphql)/' } },
    { name: 'http-below-graphql', comment: 'The REST layer does not know the GraphQL one.', severity: 'error', from: { path: '^src/http/' }, to: { path: '^src/graphql/' } },
  ],
  options: {
    // Type-only imports count: a type names its module as much as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^src/',
    exclude: { path: '\\.test\\.ts$' },
    doNotFollow: { path: 'node_modules' },
  },
};
