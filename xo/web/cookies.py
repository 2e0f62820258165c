"""The browser's ``token`` cookie and the Origin rule of cookie sessions (pure).

The cookie is XO's: named ``token``, holding an authentication token id. Ours is:

- ``HttpOnly``: page scripts (an XSS) cannot read the bearer secret. Our UI never needs to
  read it, because the API WebSocket is authenticated by the cookie at the upgrade. (XO's own
  web UI reads ``document.cookie`` to sign in; with our cookie it would not find it: that UI
  signs in with a token or a password instead.)
- ``SameSite=Lax``: the browser does not attach it to requests other sites' pages make
  (sub-resources, cross-site POSTs, WebSockets opened by another site), yet a link to xo-server
  from elsewhere (mail, wiki) still opens a signed-in page. ``Strict`` would sign users out on
  every such link for no gain here: everything that acts is a WebSocket call, and WebSocket
  upgrades carrying the cookie are refused unless their ``Origin`` is this server's
  (:func:`same_origin`), which also covers a same-*site* attacker (another port or
  subdomain), which SameSite alone does not.
- ``Secure`` when served over HTTPS; ``Path=/``; a session cookie unless "remember me" was
  ticked (then it lasts as long as its token).
"""

from __future__ import annotations

from urllib.parse import urlsplit

COOKIE_NAME = "token"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def token_cookie(token_id: str, *, secure: bool, max_age_s: int | None = None) -> str:
    """The ``Set-Cookie`` value that signs a browser in."""
    parts = [f"{COOKIE_NAME}={token_id}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age_s is not None:
        parts.append(f"Max-Age={max_age_s}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie(*, secure: bool) -> str:
    parts = [f"{COOKIE_NAME}=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_token(cookie_header: str | None) -> str | None:
    """The ``token`` cookie's value in a ``Cookie`` header, if any.

    Parsed leniently (``name=value`` pairs split on ``;``), as browsers send whatever other
    applications of the same host set, which strict parsers such as http.cookies give up on.
    """
    if not cookie_header:
        return None
    for pair in cookie_header.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name.strip() == COOKIE_NAME:
            value = value.strip().strip('"')
            return value or None
    return None


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None:
        return None
    return parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme, 0)


def same_origin(
    origin: str | None, host: str | None, *, secure: bool, trusted: frozenset[str] = frozenset()
) -> bool:
    """Whether a browser request with ``Origin: origin`` comes from this server's pages.

    ``host`` is the request's ``Host`` header and ``secure`` whether it came over TLS; origins
    in ``trusted`` (e.g. ``https://xo.example.net`` behind a reverse proxy) are accepted too.
    A request without Origin is not from a browser page (xo-cli, scripts): it passes.
    """
    if origin is None:
        return True
    if origin in trusted:
        return True
    if origin == "null" or not host:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    scheme = "https" if secure else "http"
    if parts.scheme != scheme or not parts.netloc or parts.path not in ("", "/"):
        return False
    return _host_port(parts.netloc, scheme) == _host_port(host, scheme)
