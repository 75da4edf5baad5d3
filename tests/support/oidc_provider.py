"""A real, small OpenID Connect provider for the tests, served over HTTP on a localhost port.

It implements what Hilfenetz relies on: discovery, JWKS, the authorization endpoint (which "signs in"
the user the test put in :attr:`OidcProvider.user`, as the county's login page would) and the token
endpoint (client secret, one-time code, redirect URI and PKCE S256 checked), issuing an RS256-signed
ID token with joserfc. Knobs let a test make it misbehave like a broken or hostile provider: sign
with a foreign key, answer with another nonce, issue an expired token, name another issuer or
audience in the token, or claim another issuer in its discovery document.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID, CLIENT_SECRET = "hilfenetz", "geheimnis-des-tests"


@dataclass
class Misbehaviour:
    foreign_key: bool = False
    nonce: str | None = None
    expires_in: int = 300
    issuer: str | None = None  # the ID token's "iss" (default: the provider's own)
    audience: str | None = None  # the ID token's "aud" (default: our client id)
    discovery_issuer: str | None = None  # "issuer" of the discovery document (default: its own)


@dataclass
class OidcProvider:
    user: dict[str, Any] = field(default_factory=dict)
    misbehave: Misbehaviour = field(default_factory=Misbehaviour)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    foreign: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0
    issuer: str = ""

    def start(self) -> OidcProvider:
        self._server = make_server("127.0.0.1", 0, self.wsgi)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        routes = {
            "/.well-known/openid-configuration": self.discovery,
            "/jwks": self.jwks,
            "/authorize": self.authorize,
            "/token": self.token,
        }
        handler = routes.get(request.path)
        response = handler(request) if handler else Response("not found", 404)
        return response(environ, start_response)

    def discovery(self, request: Request) -> Response:
        return _json(
            {
                "issuer": self.misbehave.discovery_issuer or self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    def jwks(self, request: Request) -> Response:
        return _json(KeySet([self.key]).as_dict(private=False))

    def authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return Response("bad request", 400)
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return Response("PKCE required", 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": args.get("nonce"),
            "challenge": args["code_challenge"],
            "redirect_uri": args["redirect_uri"],
        }
        target = f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args.get('state', '')})}"
        return Response(status=302, headers={"Location": target})

    def token(self, request: Request) -> Response:
        self.token_requests += 1
        client_id, secret = _client_credentials(request)
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return _json({"error": "invalid_client"}, 401)
        grant = self.codes.pop(request.form.get("code", ""), None)  # one use only
        if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
            return _json({"error": "invalid_grant"}, 400)
        verifier = request.form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != grant["challenge"]:
            return _json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        now = int(time.time())
        claims = {
            "iss": self.misbehave.issuer or self.issuer,
            "aud": self.misbehave.audience or CLIENT_ID,
            "iat": now,
            "exp": now + self.misbehave.expires_in,
            "nonce": self.misbehave.nonce or grant["nonce"],
            **self.user,
        }
        key = self.foreign if self.misbehave.foreign_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        access = secrets.token_urlsafe(16)
        return _json({"access_token": access, "token_type": "Bearer", "id_token": id_token})


def _client_credentials(request: Request) -> tuple[str, str]:
    if request.authorization and request.authorization.type == "basic":
        return str(request.authorization.username), str(request.authorization.password)
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def _json(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")
