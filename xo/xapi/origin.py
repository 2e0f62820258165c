"""Where a host is: scheme, host name, port. Parses server entries and XAPI host addresses."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str  # "http" | "https"
    host: str  # name or IP, IPv6 without brackets
    port: int

    @classmethod
    def parse(cls, text: str, default_scheme: str = "https") -> Origin:
        """Parse ``host``, ``host:port``, ``[v6]:port``, ``http(s)://host[:port][/...]``."""
        text = text.strip()
        if "://" not in text:
            text = f"{default_scheme}://{text}"
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"unsupported scheme {scheme!r} in {text!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {text!r}")
        return cls(scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme])

    def with_address(self, address: str) -> Origin:
        """The origin of another host of the same pool, from its XAPI ``address``.

        XAPI gives a bare IP (``10.0.0.2``, ``fe80::1``) or, in xapi-sim, ``127.0.0.1:port``.
        Scheme (and the port, when the address has none) are kept from this origin.
        """
        address = address.strip()
        if address.startswith("["):
            host, _, rest = address[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:] else self.port
            return Origin(self.scheme, host, port)
        if address.count(":") == 1:
            host, _, port_text = address.partition(":")
            return Origin(self.scheme, host, int(port_text) if port_text else self.port)
        return Origin(self.scheme, address, self.port)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if DEFAULT_PORTS.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    def __str__(self) -> str:
        return self.url
