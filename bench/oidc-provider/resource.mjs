// A protected resource in front of oidc-provider, the baseline for scripts/bench-resource.
//
// How an oidc-provider deployment with its default opaque access tokens protects an API:
// the resource server cannot read the token, so it asks the provider about each one with
// token introspection (RFC 7662), authenticating as the confidential client `resource`
// (registered by `node server.mjs --introspection`).
//
//   node resource.mjs ISSUER [PORT]   (0 or no PORT = any free port)
//
// GET /api/me with `Authorization: Bearer TOKEN`: 200 {"sub", "client_id", "scope"} when the
// provider says the token is active, 401 otherwise; 404 for anything else. Listens on
// 127.0.0.1 only and prints one line `listening on http://127.0.0.1:PORT` once bound.
//
// No caching of introspection results: every request introspects. That is the baseline's
// documented behaviour (RFC 7662 leaves caching to the resource server, and caching would
// delay seeing revocations).
import { Agent, createServer, request } from 'node:http';

const RESOURCE_ID = 'resource';
const RESOURCE_SECRET = 'resource-secret';

const [issuer, portArg = '0'] = process.argv.slice(2);
const port = Number(portArg);
if (!issuer || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node resource.mjs ISSUER [PORT]');
  process.exit(2);
}

// Keep-alive connections to the provider, as a deployed resource server would hold.
const agent = new Agent({ keepAlive: true });
const basic = `Basic ${Buffer.from(`${RESOURCE_ID}:${RESOURCE_SECRET}`).toString('base64')}`;

const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
if (!discovery.introspection_endpoint) {
  console.error('the provider advertises no introspection_endpoint (start it with --introspection)');
  process.exit(1);
}
const endpoint = new URL(discovery.introspection_endpoint);

// POSTs token=TOKEN to the introspection endpoint; resolves to the parsed JSON answer.
function introspect(token) {
  const body = `token=${encodeURIComponent(token)}`;
  return new Promise((resolve, reject) => {
    const req = request(endpoint, {
      method: 'POST',
      agent,
      headers: {
        authorization: basic,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`introspection answered HTTP ${res.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function send(res, status, body, headers = {}) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(json);
}

let failures = 0;
const server = createServer(async (req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method !== 'GET' || path !== '/api/me') {
    send(res, 404, { error: 'not_found' });
    return;
  }
  const m = /^Bearer +([^ ]+) *$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    // No credentials: a bare challenge (RFC 6750 §3.1).
    send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    return;
  }
  let info;
  try {
    info = await introspect(m[1]);
  } catch (e) {
    // Log only the first, so a provider outage does not flood the output under load.
    if (failures++ === 0) console.error(`introspection failed: ${e.message}`);
    send(res, 502, { error: 'introspection_failed' });
    return;
  }
  if (info.active !== true) {
    send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    return;
  }
  // Client credentials tokens have no sub in oidc-provider's answer: null then.
  send(res, 200, { sub: info.sub ?? null, client_id: info.client_id, scope: info.scope ?? null });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
