"""The one exception the simulator raises for API errors: XAPI's ``[code, *params]``."""

from __future__ import annotations


class XapiFailure(Exception):
    """An API error as XAPI reports it in ``ErrorDescription`` (all strings)."""

    def __init__(self, code: str, *params: object) -> None:
        self.description: list[str] = [code, *(str(p) for p in params)]
        super().__init__(*self.description)

    @property
    def code(self) -> str:
        return self.description[0]

    @property
    def params(self) -> list[str]:
        return self.description[1:]

    def __repr__(self) -> str:
        return f"XapiFailure{tuple(self.description)!r}"


def handle_invalid(cls: str, ref: str) -> XapiFailure:
    return XapiFailure("HANDLE_INVALID", cls, ref)
