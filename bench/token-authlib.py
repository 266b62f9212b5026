"""The baseline for `authflow token`: what a Python program does to print a cached access
token with Authlib's OAuth2Session (load the stored token, check expiry, print it)."""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session

with open(sys.argv[1]) as f:
    stored = json.load(f)
token = {
    "access_token": stored["access_token"],
    "token_type": stored.get("token_type", "Bearer"),
    "refresh_token": stored.get("refresh_token"),
    "expires_at": stored.get("expires_at"),
}
session = OAuth2Session(client_id="authflow-cli", token=token)
if session.token.is_expired():
    sys.exit("expired")
print(session.token["access_token"])
