// panva's openid-client (v6, OpenID Certified RP) against `authflow serve`: DPoP (RFC 9449),
// PAR (RFC 9126), JAR (RFC 9101) and private_key_jwt (RFC 7523), for
// crates/authflow-cli/tests/interop_openid_client.rs.
//
//   node tests/interop/openid-client/client.mjs ISSUER CLIENT_KEY_PEM KID [SCENARIO...]
//
// Runs the named scenarios (default: all; see SCENARIOS at the end).
// ISSUER is `authflow serve`'s issuer, configured (by the test) with `dpop_nonce = true`,
// `auto_approve = "alice"` and these clients:
//   - `oc-dpop`  public, require_pushed_authorization_requests, dpop_bound_access_tokens;
//   - `oc-pkjwt` private_key_jwt with the public half of CLIENT_KEY_PEM (P-256, PKCS#8 PEM,
//                `kid` KID), client_credentials with scope api:read;
//   - `oc-jar`   private_key_jwt with the same key, require_signed_request_object.
// Redirect URI http://127.0.0.1/callback (any port): nothing listens there; the code is
// read from the Location header of the auto-approved authorization request.
//
// Prints one JSON line per scenario (`{"scenario": ..., "ok": true|false, ...}`) and exits
// 1 if any failed, 2 on bad usage, 3 when openid-client is not installed (`npm ci` here).
import { readFileSync } from 'node:fs';

let client;
try {
  client = await import('openid-client');
} catch (e) {
  console.error(`openid-client is not installed (run: npm ci --prefix tests/interop/openid-client): ${e.message}`);
  process.exit(3);
}

const [issuerArg, keyFile, kid, ...wanted] = process.argv.slice(2);
if (!issuerArg || !keyFile || !kid) {
  console.error('usage: client.mjs ISSUER CLIENT_KEY_PEM KID [SCENARIO...]');
  process.exit(2);
}
const issuer = new URL(issuerArg);
const REDIRECT = 'http://127.0.0.1:9/callback';

// What crossed the wire: how often a server demanded a DPoP nonce, and which endpoints
// got a DPoP proof.
const wire = { useDpopNonce: 0, proofsTo: new Set() };
const recordingFetch = async (url, options) => {
  const headers = new Headers(options?.headers);
  if (headers.has('dpop')) wire.proofsTo.add(new URL(url).pathname);
  const resp = await fetch(url, options);
  const challenge = resp.headers.get('www-authenticate') ?? '';
  if (challenge.includes('use_dpop_nonce')) {
    wire.useDpopNonce += 1;
  } else if (resp.status === 400 && resp.headers.has('dpop-nonce')) {
    const body = await resp.clone().json().catch(() => ({}));
    if (body.error === 'use_dpop_nonce') wire.useDpopNonce += 1;
  }
  return resp;
};

async function configure(clientId, auth) {
  const config = await client.discovery(issuer, clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: recordingFetch,
  });
  config[client.customFetch] = recordingFetch;
  return config;
}

async function clientKey() {
  const pem = readFileSync(keyFile, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return { key, kid };
}

/** The user agent: follows the authorization URL once; auto-approval redirects at once. */
async function authorize(url) {
  const resp = await fetch(url, { redirect: 'manual' });
  const location = resp.headers.get('location');
  if (!location) {
    throw new Error(`authorization: HTTP ${resp.status} without a redirect: ${(await resp.text()).slice(0, 300)}`);
  }
  return new URL(location, url);
}

async function codeFlow(config, dpop, { par, jarKey }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  let params = {
    redirect_uri: REDIRECT,
    scope: 'openid profile offline_access api:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (jarKey) {
    params = (await client.buildAuthorizationUrlWithJAR(config, params, jarKey)).searchParams;
  }
  const url = par
    ? await client.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop })
    : client.buildAuthorizationUrl(config, params);
  const callback = await authorize(url);
  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  return { url, tokens };
}

const onlyRequestUri = (url) => [...url.searchParams.keys()].sort().join() === 'client_id,request_uri';

/** The OAuth error code of a failure: from the body or from a WWW-Authenticate challenge. */
const errorCode = async (e) => e.error
  ?? (Array.isArray(e.cause) ? e.cause.find((c) => c.parameters?.error)?.parameters.error : undefined)
  ?? (await e.response?.clone().json().catch(() => undefined))?.error
  ?? e.message;

/** What went wrong, for the report (challenges and the body's error included). */
const describe = (e) => {
  const parts = [`${e.name}: ${e.message}`];
  if (e.error) parts.push(`[${e.error}: ${e.error_description ?? ''}]`);
  if (Array.isArray(e.cause)) parts.push(`challenges ${JSON.stringify(e.cause)}`);
  else if (e.cause instanceof Error) parts.push(`(cause: ${e.cause.message})`);
  if (e.status) parts.push(`HTTP ${e.status}`);
  return parts.join(' ');
};

const expect = (cond, what) => {
  if (!cond) throw new Error(what);
};

const results = [];
let step = '';
/** Names the step under way, for the report of a failure. */
const at = (name) => { step = name; };
const SCENARIOS = {};
function scenario(name, body) {
  SCENARIOS[name] = body;
}
async function run(name, body) {
  const before = wire.useDpopNonce;
  step = 'start';
  try {
    const details = await body();
    results.push({ scenario: name, ok: true, use_dpop_nonce: wire.useDpopNonce - before, ...details });
  } catch (e) {
    results.push({ scenario: name, ok: false, step, error: describe(e) });
  }
  console.log(JSON.stringify(results.at(-1)));
}

scenario('dpop_par_code_flow', async () => {
  const config = await configure('oc-dpop', client.None());
  // The server requires PAR of this client: a plain authorization request is refused.
  at('plain authorization request');
  const plain = await fetch(client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  }), { redirect: 'manual' });
  const refused = plain.status >= 400
    || new URL(plain.headers.get('location') ?? 'x:/', issuer).searchParams.has('error');
  expect(refused, `a plain authorization request was accepted (HTTP ${plain.status})`);

  const keyPair = await client.randomDPoPKeyPair('ES256');
  const dpop = client.getDPoPHandle(config, keyPair);
  at('code flow through PAR');
  const { url, tokens } = await codeFlow(config, dpop, { par: true });
  expect(onlyRequestUri(url), `PAR URL ${url}`);
  expect(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`);
  expect(tokens.refresh_token, 'no refresh token');
  const claims = tokens.claims();
  expect(claims.sub === 'alice', `sub ${claims.sub}`);

  at('/api/me');
  const me = await client.fetchProtectedResource(config, tokens.access_token, new URL('/api/me', issuer), 'GET', undefined, undefined, { DPoP: dpop });
  expect(me.status === 200, `/api/me with DPoP: HTTP ${me.status}`);
  const bearer = await fetch(new URL('/api/me', issuer), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  expect(bearer.status === 401, `/api/me with the DPoP token as Bearer: HTTP ${bearer.status}`);

  // The refresh token is bound to the key as well.
  at('refresh with another key');
  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const stolen = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: other })
    .then(() => 'accepted', errorCode);
  expect(stolen === 'invalid_grant', `refresh with another key: ${stolen}`);
  at('refresh');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: dpop });
  expect(refreshed.token_type === 'dpop', `refreshed token_type ${refreshed.token_type}`);
  at('/api/me after the refresh');
  const again = await client.fetchProtectedResource(config, refreshed.access_token, new URL('/api/me', issuer), 'GET', undefined, undefined, { DPoP: dpop });
  expect(again.status === 200, `/api/me after the refresh: HTTP ${again.status}`);
  return { token_type: tokens.token_type, refreshed_token_type: refreshed.token_type };
});

// UserInfo is a protected resource like any other (OIDC Core §5.3, RFC 9449 §7): a
// DPoP-bound token goes there with `Authorization: DPoP` and a proof.
scenario('dpop_userinfo', async () => {
  const config = await configure('oc-dpop', client.None());
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  at('code flow through PAR');
  const { tokens } = await codeFlow(config, dpop, { par: true });
  expect(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`);
  at('userinfo');
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP: dpop });
  expect(info.sub === 'alice', `userinfo sub ${info.sub}`);
  return { sub: info.sub };
});

scenario('private_key_jwt_client_credentials_with_dpop', async () => {
  const config = await configure('oc-pkjwt', client.PrivateKeyJwt(await clientKey()));
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' }, { DPoP: dpop });
  expect(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`);
  const data = await client.fetchProtectedResource(config, tokens.access_token, new URL('/api/data', issuer), 'GET', undefined, undefined, { DPoP: dpop });
  expect(data.status === 200, `/api/data with DPoP: HTTP ${data.status}: ${(await data.text()).slice(0, 200)}`);
  // A key the server does not know is invalid_client.
  const { publicKey: _, privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const impostor = await configure('oc-pkjwt', client.PrivateKeyJwt({ key: privateKey, kid }));
  const refused = await client.clientCredentialsGrant(impostor, { scope: 'api:read' })
    .then(() => 'accepted', errorCode);
  expect(refused === 'invalid_client', `another key: ${refused}`);
  return { token_type: tokens.token_type };
});

// An Ed25519 DPoP key: oauth4webapi signs with the fully-specified `alg` "Ed25519"
// (RFC 9864, which deprecates "EdDSA"); oidc-provider accepts both names.
scenario('ed25519_dpop_proof', async () => {
  const config = await configure('oc-pkjwt', client.PrivateKeyJwt(await clientKey()));
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('Ed25519'));
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' }, { DPoP: dpop });
  expect(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`);
  const data = await client.fetchProtectedResource(config, tokens.access_token, new URL('/api/data', issuer), 'GET', undefined, undefined, { DPoP: dpop });
  expect(data.status === 200, `/api/data with DPoP: HTTP ${data.status}`);
  return { token_type: tokens.token_type };
});

scenario('jar_inside_par_with_dpop', async () => {
  const key = await clientKey();
  const config = await configure('oc-jar', client.PrivateKeyJwt(key));
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  // An unsigned request is refused for this client ...
  const unsigned = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  }).then(() => 'accepted', errorCode);
  expect(unsigned !== 'accepted', 'an unsigned pushed request was accepted');
  // ... a signed one, pushed, gets through.
  const { url, tokens } = await codeFlow(config, dpop, { par: true, jarKey: key });
  expect(onlyRequestUri(url), `PAR URL ${url}`);
  expect(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`);
  expect(tokens.claims().sub === 'alice', 'sub');
  return { unsigned_refused_with: unsigned };
});

for (const name of wanted) {
  if (!SCENARIOS[name]) {
    console.error(`unknown scenario ${name} (known: ${Object.keys(SCENARIOS).join(', ')})`);
    process.exit(2);
  }
}
for (const [name, body] of Object.entries(SCENARIOS)) {
  if (wanted.length === 0 || wanted.includes(name)) await run(name, body);
}

console.log(JSON.stringify({
  summary: true,
  ok: results.every((r) => r.ok),
  use_dpop_nonce: wire.useDpopNonce,
  proofs_to: [...wire.proofsTo].sort(),
}));
process.exit(results.every((r) => r.ok) ? 0 : 1);
