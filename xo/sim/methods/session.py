"""``session.*``: login/logout and the few getters clients use."""

from __future__ import annotations

from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, handler
from xo.sim.schema import NULL_REF


@handler("session.login_with_password")
async def login_with_password(
    call: Call, uname: str, pwd: str, version: str = "1.1", originator: str = ""
) -> str:
    return await call.pool.login(uname, pwd, on_host=call.host)


@handler("session.logout")
async def logout(call: Call) -> None:
    call.pool.logout(call.session)


@handler("session.local_logout")
async def local_logout(call: Call) -> None:
    call.pool.logout(call.session)


@handler("session.get_this_host")
async def get_this_host(call: Call, session: str) -> str:
    return _session(call, session).host


@handler("session.get_uuid")
async def get_uuid(call: Call, session: str) -> str:
    return _session(call, session).uuid


@handler("session.get_this_user")
async def get_this_user(call: Call, session: str) -> str:
    _session(call, session)
    return NULL_REF


@handler("session.get_auth_user_name")
async def get_auth_user_name(call: Call, session: str) -> str:
    return _session(call, session).username


@handler("session.get_is_local_superuser")
async def get_is_local_superuser(call: Call, session: str) -> bool:
    _session(call, session)
    return True


@handler("session.get_pool")
async def get_pool(call: Call, session: str) -> bool:
    _session(call, session)
    return False


def _session(call: Call, ref: str):  # noqa: ANN202 - internal
    found = call.pool.sessions.get(ref)
    if found is None:
        raise XapiFailure("HANDLE_INVALID", "session", ref)
    return found
