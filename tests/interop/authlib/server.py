"""An OAuth 2.0 authorization server on Authlib (Flask), for authflow's interoperability tests.

    python tests/interop/authlib/server.py PORT [--exit-on-stdin-close]

PORT 0 picks a free port. Listens on 127.0.0.1 only and prints one line
`listening on http://127.0.0.1:PORT` once bound (the issuer is that URL). Everything is
in memory. Installed by scripts/install-interop into target/interop-venv from the pinned
requirements.txt.

- Grants: authorization code with PKCE (S256 required for public clients), refresh token
  (rotated on every use; presenting a rotated one again revokes the whole grant, as
  oidc-provider and others do), client credentials.
- Endpoints: RFC 8414 metadata at /.well-known/oauth-authorization-server, /authorize
  (auto-approves as the user alice: no login page), /token, /revoke (RFC 7009),
  /introspect (RFC 7662), and a protected resource /api/me (Bearer, scope `profile`).
- The authorization response carries `iss` (RFC 9207, Authlib's IssuerParameter).
- Clients: `authlib-public` (none), `authlib-confidential` (client_secret_basic or _post),
  `authlib-special` (client_secret_basic only, secret `s:%+&=/ ecret`, with a space).
  Redirect URI http://127.0.0.1/callback, any port (RFC 8252 §7.3).
"""

import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, jsonify
from werkzeug.serving import make_server

SPECIAL_SECRET = "s:%+&=/ ecret"
REDIRECT = "http://127.0.0.1/callback"
SCOPES = {"profile", "email", "api:read", "offline_access"}
ACCESS_TOKEN_TTL = 3600


class Client(ClientMixin):
    def __init__(self, client_id, secret, methods, grant_types):
        self.client_id = client_id
        self.client_secret = secret
        self.methods = methods
        self.grant_types = grant_types

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        # Loopback: any port (RFC 8252 §7.3), the rest exact.
        parts = urlsplit(redirect_uri)
        if parts.scheme == "http" and parts.hostname == "127.0.0.1":
            redirect_uri = urlunsplit(("http", "127.0.0.1", parts.path, parts.query, ""))
        return redirect_uri == REDIRECT

    def check_client_secret(self, client_secret):
        return self.client_secret is not None and client_secret == self.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.methods

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


CODE = ["authorization_code", "refresh_token"]
CLIENTS = {
    c.client_id: c
    for c in [
        Client("authlib-public", None, ["none"], CODE),
        Client(
            "authlib-confidential",
            "authlib-confidential-secret",
            ["client_secret_basic", "client_secret_post"],
            CODE + ["client_credentials"],
        ),
        Client("authlib-special", SPECIAL_SECRET, ["client_secret_basic"], CODE + ["client_credentials"]),
    ]
}
USERS = {"alice": {"sub": "alice", "name": "Alice Example", "email": "alice@example.test"}}

LOCK = threading.Lock()
CODES = {}
TOKENS = []  # every Token ever issued; lookups are linear, fine for tests


class AuthorizationCode(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, user, challenge, method):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.user = user
        self.code_challenge = challenge
        self.code_challenge_method = method
        self.expires_at = time.time() + 60

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


class Token(TokenMixin):
    def __init__(self, client_id, user, grant_id, token):
        self.client_id = client_id
        self.user = user
        self.grant_id = grant_id
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        self.scope = token.get("scope", "")
        self.issued_at = time.time()
        self.expires_in = token.get("expires_in", ACCESS_TOKEN_TTL)
        self.access_revoked = False
        self.refresh_revoked = False
        self.rotated = False

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.access_revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return CLIENTS[self.client_id]


def revoke_grant(grant_id):
    for t in TOKENS:
        if t.grant_id == grant_id:
            t.access_revoked = True
            t.refresh_revoked = True


def query_client(client_id):
    return CLIENTS.get(client_id)


def save_token(token, request):
    # A refresh continues the grant of the token it replaces; a new login starts one.
    previous = getattr(request, "refresh_token", None)
    grant_id = previous.grant_id if isinstance(previous, Token) else object()
    user = request.user["sub"] if request.user else None
    with LOCK:
        TOKENS.append(Token(request.client.client_id, user, grant_id, token))


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        with LOCK:
            CODES[code] = AuthorizationCode(
                code,
                request.client.client_id,
                request.payload.redirect_uri,
                request.scope,
                request.user["sub"],
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

    def query_authorization_code(self, code, client):
        item = CODES.get(code)
        if item and item.client_id == client.client_id and item.expires_at > time.time():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return USERS[authorization_code.user]


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        with LOCK:
            for t in TOKENS:
                if t.refresh_token == refresh_token:
                    if t.rotated:
                        # Reuse of a rotated refresh token: end the whole grant.
                        revoke_grant(t.grant_id)
                        return None
                    return None if t.refresh_revoked else t
        return None

    def authenticate_user(self, refresh_token):
        return USERS.get(refresh_token.user)

    def revoke_old_credential(self, refresh_token):
        with LOCK:
            refresh_token.rotated = True
            refresh_token.access_revoked = True


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def find_token(token_string, hint):
    for t in TOKENS:
        if hint != "refresh_token" and t.access_token == token_string:
            return t
        if hint != "access_token" and t.refresh_token == token_string:
            return t
    return None


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        with LOCK:
            if request.form.get("token") == token.refresh_token:
                revoke_grant(token.grant_id)
            else:
                token.access_revoked = True


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def create_introspection_payload(self, token):
        # A revoked refresh token is inactive too (Authlib's default looks at the access token).
        if token and token.refresh_revoked and self.request_token == token.refresh_token:
            return {"active": False}
        return super().create_introspection_payload(token)

    def authenticate_token(self, request, client):
        self.request_token = request.form.get("token")
        return super().authenticate_token(request, client)

    def introspect_token(self, token):
        return {
            "active": True,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "sub": token.user,
            "username": token.user,
            "scope": token.scope,
            "exp": int(token.issued_at + token.expires_in),
            "iat": int(token.issued_at),
        }

    def check_permission(self, token, client, request):
        return True


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return find_token(token_string, "access_token")


def create_app(issuer):
    app = Flask(__name__)
    # Authlib issues refresh tokens only with a generator configured.
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)

    class Issuer(IssuerParameter):
        def get_issuer(self):
            return issuer

    server.register_grant(CodeGrant, [CodeChallenge(required=True)])
    server.register_grant(RefreshGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_extension(Issuer())
    protect = ResourceProtector()
    protect.register_token_validator(Validator())

    @app.get("/.well-known/oauth-authorization-server")
    def metadata():
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            revocation_endpoint=f"{issuer}/revoke",
            introspection_endpoint=f"{issuer}/introspect",
            response_types_supported=["code"],
            grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
            code_challenge_methods_supported=["S256", "plain"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post", "none"],
            scopes_supported=sorted(SCOPES),
            authorization_response_iss_parameter_supported=True,
        )

    @app.get("/authorize")
    def authorize():
        # Auto-approve as alice: the test plays a user who always says yes.
        return server.create_authorization_response(grant_user=USERS["alice"])

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.post("/revoke")
    def revoke():
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    @app.post("/introspect")
    def introspect():
        return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

    @app.get("/api/me")
    @protect("profile")
    def me():
        from authlib.integrations.flask_oauth2 import current_token

        return jsonify(USERS[current_token.user])

    return app


def main():
    args = sys.argv[1:]
    try:
        port = int(args[0]) if args else 0
    except ValueError:
        print(f"invalid port: {args[0]}", file=sys.stderr)
        sys.exit(2)
    # Bind first, then build the app with the issuer that carries the bound port.
    srv = make_server("127.0.0.1", port, Flask("placeholder"), threaded=True)
    issuer = f"http://127.0.0.1:{srv.server_port}"
    srv.app = create_app(issuer)
    if "--exit-on-stdin-close" in args:

        def watch():
            sys.stdin.read()
            srv.shutdown()

        threading.Thread(target=watch, daemon=True).start()
    print(f"listening on {issuer}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
