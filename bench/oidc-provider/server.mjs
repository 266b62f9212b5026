// panva's oidc-provider as the baseline for scripts/bench-provider and scripts/bench-resource.
//
// Default configuration and the default in-memory adapter, plus only what the
// client_credentials grant needs: the feature switched on and one confidential client.
//
//   node server.mjs [--introspection] [PORT]   (or PORT=... node server.mjs; 0 = any free port)
//
// --introspection adds only what token introspection (RFC 7662) needs, for
// resource.mjs: the feature switched on and a second confidential client, `resource`,
// with no grants, that authenticates at the introspection endpoint. The default
// features.introspection.allowedPolicy lets any confidential client introspect tokens
// issued to another client.
//
// Listens on 127.0.0.1 only and prints one line `listening on http://127.0.0.1:PORT`
// once bound; the token endpoint is POST /token, introspection POST /token/introspection.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-secret';
const RESOURCE_ID = 'resource';
const RESOURCE_SECRET = 'resource-secret';

const args = process.argv.slice(2);
const introspection = args.includes('--introspection');
const portArg = args.find((a) => a !== '--introspection');
const port = Number(portArg ?? process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${portArg ?? process.env.PORT}`);
  process.exit(2);
}

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  const issuer = `http://127.0.0.1:${bound}`;

  const clients = [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [],
      response_types: [],
    },
  ];
  const features = {
    clientCredentials: { enabled: true },
  };
  if (introspection) {
    clients.push({
      client_id: RESOURCE_ID,
      client_secret: RESOURCE_SECRET,
      grant_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [],
      response_types: [],
    });
    features.introspection = { enabled: true };
  }

  const provider = new Provider(issuer, { clients, features });

  server.on('request', provider.callback());
  console.log(`listening on ${issuer}`);
});
