// The issuer and SECRETS_KEY every Tessera under test shares (the harness's runtime and the processes the tests
// start), so that a token minted or a secret sealed by one is good on the others. A module of its own, so that a
// test of processes alone does not load the app to learn them.
export const TEST_ISSUER = 'http://tessera.test';
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');
