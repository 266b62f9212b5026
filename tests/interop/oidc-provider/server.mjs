// panva's oidc-provider (OpenID Certified), configured for authflow's interoperability tests.
//
//   node tests/interop/oidc-provider/server.mjs PORT [--login-form] [--exit-on-stdin-close]
//        [--modern --client-jwks FILE [--require-par]] [--registration]
//
// PORT 0 picks a free port. Listens on 127.0.0.1 only and prints one line
// `listening on http://127.0.0.1:PORT` once bound (the issuer is that URL).
//
// The package is the one pinned for the benchmark (bench/oidc-provider: oidc-provider 9.13.3,
// package-lock.json, installed by `npm ci`): one installed copy, imported from there.
//
// Interactions: oidc-provider's `devInteractions` are off. Its documented interaction API
// (`provider.interactionDetails` / `provider.interactionFinished`) drives a minimal
// login + consent at GET /interaction/:uid:
//   - by default the user `alice` is logged in and every requested scope and claim is
//     granted at once (a 303 to the resume endpoint), so a plain HTTP client that follows
//     redirects and keeps cookies (`curl -L -b ''`, reqwest with a cookie store) completes
//     the code flow and the device flow;
//   - with `--login-form` the login prompt is a real HTML form (#username, #password,
//     button[value=login]; alice / alice-password) for the browser test; consent is still
//     granted at once.
//
// Clients (see CLIENTS below): `interop-public` (native, PKCE, no secret),
// `interop-confidential` (client_secret_basic), `interop-special` (client_secret_basic with
// the secret `s:%+&=/ecret`). All are native apps with the loopback redirect
// http://127.0.0.1/callback: oidc-provider accepts any port on it (RFC 8252 §7.3).
//
// `--modern` (for interop_oidc_provider_modern) keeps all of the above and adds:
//   - DPoP (RFC 9449) with server nonces: `features.dPoP.nonceSecret` is set and
//     `requireNonce` is on, so every proof without a fresh nonce gets `use_dpop_nonce`
//     (at the token endpoint and at userinfo);
//   - request objects (JAR, RFC 9101) by value (`features.requestObjects.enabled`); PAR
//     (RFC 9126) is on as in oidc-provider's defaults;
//   - the MODERN_CLIENTS below. The private_key_jwt clients' public keys come from
//     `--client-jwks FILE` (a JWKS document the test writes; it generated the keys), each
//     client taking the key whose `kid` is its client_id's suffix (`es256`, `eddsa`).
// `--require-par` (with `--modern`) sets `requirePushedAuthorizationRequests` server-wide:
// the metadata then says `require_pushed_authorization_requests: true`.
// `--registration` (for the CLI's resource_login test) keeps all of the above and adds
// dynamic client registration (RFC 7591, open: no initial access token) with its
// management (RFC 7592: registration_client_uri + registration_access_token), and
// resource indicators (RFC 8707) for resources on http://127.0.0.1:*: their access tokens
// are JWTs whose `aud` is the resource, with the scope `api:read`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Resolve `oidc-provider` as bench/oidc-provider would: its node_modules.
const benchPackage = fileURLToPath(new URL('../../../bench/oidc-provider/package.json', import.meta.url));
let Provider;
let providerErrors;
try {
  const entry = createRequire(benchPackage).resolve('oidc-provider');
  ({ default: Provider, errors: providerErrors } = await import(pathToFileURL(entry).href));
} catch (e) {
  console.error(`oidc-provider is not installed (run: npm ci --prefix bench/oidc-provider): ${e.message}`);
  process.exit(3);
}

const args = process.argv.slice(2);
const port = Number(args[0] ?? 0);
const loginForm = args.includes('--login-form');
const requirePar = args.includes('--require-par');
const modern = args.includes('--modern') || requirePar;
const registration = args.includes('--registration');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${args[0]}`);
  process.exit(2);
}
const optionValue = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
let clientJwks;
if (modern) {
  const file = optionValue('--client-jwks');
  if (!file) {
    console.error('--modern needs --client-jwks FILE (the public keys of the private_key_jwt clients)');
    process.exit(2);
  }
  try {
    clientJwks = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`cannot read --client-jwks ${file}: ${e.message}`);
    process.exit(2);
  }
}

const SPECIAL_SECRET = 's:%+&=/ecret';
const REDIRECT = 'http://127.0.0.1/callback';
const CODE_GRANTS = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];

const CLIENTS = [
  {
    client_id: 'interop-public',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: CODE_GRANTS,
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  {
    client_id: 'interop-confidential',
    client_secret: 'interop-confidential-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [...CODE_GRANTS, 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  {
    client_id: 'interop-special',
    client_secret: SPECIAL_SECRET,
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [...CODE_GRANTS, 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
];

// The clients of `--modern`: one per mechanism, so that oidc-provider refuses anything
// else and a fallback cannot hide a bug.
const keyFor = (kid) => {
  const key = clientJwks?.keys?.find((k) => k.kid === kid);
  if (!key) {
    console.error(`--client-jwks has no key with kid ${kid}`);
    process.exit(2);
  }
  return key;
};
const MODERN_JWT_SECRET = 'modern-secret-jwt-secret-of-at-least-32-bytes';
const MODERN_CLIENTS = () => [
  // A public client whose access tokens must be DPoP-bound.
  {
    client_id: 'modern-dpop',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    dpop_bound_access_tokens: true,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  // private_key_jwt, one algorithm each (registered, so nothing else is accepted).
  ...[['es256', 'ES256'], ['eddsa', 'EdDSA']].map(([kid, alg]) => ({
    client_id: `modern-pkjwt-${kid}`,
    application_type: 'native',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: alg,
    jwks: { keys: [keyFor(kid)] },
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  })),
  {
    client_id: 'modern-secret-jwt',
    client_secret: MODERN_JWT_SECRET,
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_jwt',
    token_endpoint_auth_signing_alg: 'HS256',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  // PAR required for this client only (client metadata, not in the server's metadata).
  {
    client_id: 'modern-par',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    require_pushed_authorization_requests: true,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  // Signed request objects required (ES256, the `es256` key), private_key_jwt with it too.
  {
    client_id: 'modern-jar',
    application_type: 'native',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    require_signed_request_object: true,
    request_object_signing_alg: 'ES256',
    jwks: { keys: [keyFor('es256')] },
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
];
const ACCOUNTS = {
  alice: { sub: 'alice', name: 'Alice Example', email: 'alice@example.test', email_verified: true },
};
const PASSWORDS = { alice: 'alice-password' };

// Tests keep stdin open and close it (by exiting) when done: then the server stops too.
if (args.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: modern ? [...CLIENTS, ...MODERN_CLIENTS()] : CLIENTS,
    // Test-only keys and cookie secrets: generated per process by oidc-provider itself
    // (it warns that these development defaults are not for production).
    findAccount: async (_ctx, sub) => ACCOUNTS[sub] && {
      accountId: sub,
      claims: async () => ACCOUNTS[sub],
    },
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read'],
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      ...(modern && {
        dPoP: {
          enabled: true,
          // Fresh per process; with requireNonce every proof must carry a server nonce.
          nonceSecret: randomBytes(32),
          requireNonce: () => true,
        },
        pushedAuthorizationRequests: {
          enabled: true,
          requirePushedAuthorizationRequests: requirePar,
        },
        requestObjects: { enabled: true },
      }),
      ...(registration && {
        registration: { enabled: true },
        registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(resource)) {
              throw new providerErrors.InvalidTarget(`not a test resource: ${resource}`);
            }
            return {
              scope: 'api:read',
              audience: resource,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      }),
    },
    // A new refresh token on every refresh, for every client; presenting a rotated one
    // again revokes the whole grant (oidc-provider's reuse detection).
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 600,
      DeviceCode: 600,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
      AuthorizationCode: 60,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  const page = (res, status, body) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><title>oidc-provider interop</title></head><body>${body}</body></html>`);
  };

  // The consent prompt: grant what was asked (the documented pattern of oidc-provider's
  // own example), then resume.
  const consent = async (req, res, details) => {
    const { prompt: { details: missing }, params, session } = details;
    const accountId = session?.accountId;
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  };

  const interaction = async (req, res) => {
    const details = await provider.interactionDetails(req, res);
    const { prompt } = details;
    if (prompt.name === 'login') {
      if (!loginForm) {
        await provider.interactionFinished(req, res, { login: { accountId: 'alice' } }, { mergeWithLastSubmission: false });
        return;
      }
      if (req.method === 'POST') {
        const body = await new Promise((resolve, reject) => {
          let data = '';
          req.setEncoding('utf8');
          req.on('data', (c) => { data += c; if (data.length > 10000) reject(new Error('body too large')); });
          req.on('end', () => resolve(data));
          req.on('error', reject);
        });
        const form = new URLSearchParams(body);
        const user = form.get('username') ?? '';
        if (PASSWORDS[user] && PASSWORDS[user] === form.get('password')) {
          await provider.interactionFinished(req, res, { login: { accountId: user } }, { mergeWithLastSubmission: false });
          return;
        }
        page(res, 200, '<p id="error">Wrong username or password.</p>' + loginPage(details.uid));
        return;
      }
      page(res, 200, loginPage(details.uid));
      return;
    }
    if (prompt.name === 'consent') {
      await consent(req, res, details);
      return;
    }
    page(res, 400, `<p>unsupported prompt ${prompt.name}</p>`);
  };

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((err) => {
        console.error('interaction', err);
        if (!res.headersSent) page(res, 400, `<p id="error">${String(err.message).replace(/[<&]/g, '')}</p>`);
      });
      return;
    }
    callback(req, res);
  });
  console.log(`listening on ${issuer}`);
});

function loginPage(uid) {
  return `<h1>Sign in (oidc-provider)</h1>
<form method="post" action="/interaction/${uid}">
<label>Username <input id="username" name="username" autocomplete="off"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button type="submit" name="action" value="login">Sign in</button>
</form>`;
}
