// panva's oidc-provider as the baseline for scripts/bench-provider.
//
// Default configuration and the default in-memory adapter, plus only what the
// client_credentials grant needs: the feature switched on and one confidential client.
//
//   node server.mjs [PORT]        (or PORT=... node server.mjs; 0 = any free port)
//
// Listens on 127.0.0.1 only and prints one line `listening on http://127.0.0.1:PORT`
// once bound; the token endpoint is POST /token.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-secret';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2] ?? process.env.PORT}`);
  process.exit(2);
}

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  const issuer = `http://127.0.0.1:${bound}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        response_types: [],
      },
    ],
    features: {
      clientCredentials: { enabled: true },
    },
  });

  server.on('request', provider.callback());
  console.log(`listening on ${issuer}`);
});
