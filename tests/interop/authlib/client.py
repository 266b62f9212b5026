"""A third-party client on Authlib's requests client (OAuth2Session), against authflow's
embedded provider; run by crates/authflow-cli/tests/interop_clients.rs.

    python tests/interop/authlib/client.py ISSUER CLIENT_ID CLIENT_SECRET

Discovers ISSUER (OpenID Connect discovery), runs the authorization code flow with PKCE
S256 (the provider auto-approves: following the redirects lands on a loopback URL nobody
listens on, whose query is read from the Location header), calls /api/me, refreshes,
validates the ID token's signature against the JWKS (joserfc, Authlib's JOSE library), and
gets a client credentials token. Prints one JSON object with what it saw; exits non-zero
with the reason on any failure.
"""

import json
import sys
import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

REDIRECT = "http://127.0.0.1:9/callback"  # any loopback port: never connected to


def main():
    issuer, client_id, secret = sys.argv[1:4]
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer, meta["issuer"]
    out = {}

    session = OAuth2Session(
        client_id,
        secret,
        scope="openid profile offline_access api:read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    # The "browser": follow redirects until the one to the loopback redirect URI.
    location = url
    for _ in range(10):
        resp = requests.get(location, allow_redirects=False, timeout=10)
        assert resp.status_code in (302, 303, 307), f"{resp.status_code} at {location}: {resp.text[:300]}"
        location = requests.compat.urljoin(location, resp.headers["Location"])
        if location.startswith(REDIRECT):
            break
    else:
        raise AssertionError("never redirected to the client")
    out["iss_on_redirect"] = "iss=" in location
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state
    )
    assert token.get("refresh_token"), f"no refresh token: {sorted(token)}"

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == issuer and claims["aud"] in (client_id, [client_id]), claims
    assert claims["nonce"] == nonce, claims
    assert claims["exp"] > time.time(), claims
    out["id_token_alg"] = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).header["alg"]
    out["sub"] = claims["sub"]

    me = session.get(f"{issuer}/api/me", timeout=10)
    assert me.status_code == 200, f"/api/me: {me.status_code} {me.text[:200]}"
    out["api_sub"] = me.json().get("sub")

    old_rt = token["refresh_token"]
    refreshed = session.refresh_token(meta["token_endpoint"], refresh_token=old_rt)
    assert refreshed["access_token"] != token["access_token"]
    out["rotated"] = refreshed.get("refresh_token") not in (None, old_rt)
    me = session.get(f"{issuer}/api/me", timeout=10)
    assert me.status_code == 200, f"/api/me after refresh: {me.status_code}"

    cc = OAuth2Session(client_id, secret, scope="api:read", token_endpoint_auth_method="client_secret_basic")
    cc_token = cc.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    out["client_credentials_scope"] = cc_token.get("scope")
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - one line for the test's assertion message
        print(f"client.py failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
