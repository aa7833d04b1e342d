// A real OpenID Connect provider for Confab's sign-in tests: the certified `oidc-provider`
// package with one client (`confab`) and accounts made up on the spot (any login name works;
// names starting with "unverified" get an unverified email).
//
// Usage: node oidc/provider.mjs PORT REDIRECT_URI[,REDIRECT_URI...]
// Prints the issuer URL once it listens. PORT 0 takes a port the system picks: no other process
// can take it between choosing and listening, as it can with a port chosen beforehand.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const redirectUris = (process.argv[3] ?? '').split(',').filter(Boolean);
if (!Number.isInteger(port) || port < 0 || redirectUris.length === 0) {
  console.error('usage: node oidc/provider.mjs PORT REDIRECT_URI[,...]');
  process.exit(2);
}
// The issuer names the port, so the provider is made once the server listens.
const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = makeProvider(issuer);
  server.on('request', provider.callback());
  console.log(issuer);
});

function makeProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'confab',
      client_secret: 'confab-test-secret',
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['confab-oidc-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const login = String(id).toLowerCase();
      return {
        accountId: login,
        async claims() {
          return {
            sub: login,
            email: login.includes('@') ? login : `${login}@example.com`,
            email_verified: !login.startsWith('unverified'),
            name: login.split('@')[0],
          };
        },
      };
    },
  });
  // Quiet: the tests read only the first line.
  provider.on('server_error', (_ctx, error) => console.error('server_error', error));
  return provider;
}
