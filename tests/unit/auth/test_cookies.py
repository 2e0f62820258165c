"""The ``token`` cookie and the Origin rule of cookie sessions (xo/web/cookies.py)."""

from __future__ import annotations

from xo.web.cookies import clear_cookie, cookie_token, same_origin, token_cookie


def test_the_cookie_is_httponly_lax_and_secure_over_https() -> None:
    assert token_cookie("abc", secure=False) == "token=abc; Path=/; HttpOnly; SameSite=Lax"
    assert token_cookie("abc", secure=True, max_age_s=60).endswith("; Max-Age=60; Secure")
    assert "Max-Age=0" in clear_cookie(secure=False)


def test_the_token_is_read_from_a_cookie_header() -> None:
    assert cookie_token("a=1; token=xyz-_; b=2") == "xyz-_"
    assert cookie_token("authenticationToken=xyz") is None
    assert cookie_token("token=") is None
    assert cookie_token(None) is None
    assert cookie_token('x=1; bad cookie "here; token=ok') == "ok"
    assert cookie_token('token="quoted"') == "quoted"


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin(None, "h:80", secure=False)  # not from a browser page
    assert same_origin("http://h:8080", "h:8080", secure=False)
    assert same_origin("http://H", "h:80", secure=False)
    assert same_origin("https://h", "h", secure=True)
    assert not same_origin("http://h:8081", "h:8080", secure=False)
    assert not same_origin("https://h:8080", "h:8080", secure=False)
    assert not same_origin("http://evil", "h", secure=False)
    assert not same_origin("http://h.evil", "h", secure=False)
    assert not same_origin("null", "h", secure=False)
    assert not same_origin("http://h:99999", "h", secure=False)
    assert not same_origin("http://h", None, secure=False)
    assert same_origin(
        "https://xo.example.net",
        "127.0.0.1:80",
        secure=False,
        trusted=frozenset({"https://xo.example.net"}),
    )
