"""What xo-server persists, as immutable records (the store returns these, never rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PERMISSIONS = ("none", "read", "write", "admin")


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str | None
    permission: str = "none"
    preferences: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    auth_providers: dict[str, Any] | None = None
    created_at: int = 0

    @property
    def is_admin(self) -> bool:
        return self.permission == "admin"

    def public(self) -> dict[str, Any]:
        """What the API shows of a user (XO's ``getUserPublicProperties``): no password hash."""
        public: dict[str, Any] = {
            "id": self.id,
            "email": self.email,
            "groups": list(self.groups),
            "permission": self.permission,
            "preferences": dict(self.preferences),
        }
        if self.auth_providers:
            public["authProviders"] = dict(self.auth_providers)
        return public


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    users: tuple[str, ...] = ()
    provider: str | None = None
    provider_group_id: str | None = None

    def public(self) -> dict[str, Any]:
        public: dict[str, Any] = {"id": self.id, "name": self.name, "users": list(self.users)}
        if self.provider is not None:
            public["provider"] = self.provider
            public["providerGroupId"] = self.provider_group_id
        public["aclRoleIds"] = []
        return public


@dataclass(frozen=True)
class Acl:
    id: str
    subject: str
    object: str
    action: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "object": self.object,
            "action": self.action,
        }


@dataclass(frozen=True)
class RightsData:
    """Everything rights depend on, read in one transaction (a consistent snapshot)."""

    permissions: dict[str, str]  # user id -> global permission
    groups: dict[str, tuple[str, ...]]  # user id -> its group ids
    acls: tuple[Acl, ...]


@dataclass(frozen=True)
class Token:
    id: str
    user_id: str
    created_at: int  # ms since epoch
    expiration: int  # ms since epoch
    description: str | None = None
    client: dict[str, Any] | None = None
    last_uses: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """As ``user.getAuthenticationTokens`` lists it."""
        public: dict[str, Any] = {"id": self.id, "user_id": self.user_id}
        if self.client is not None:
            public["client"] = dict(self.client)
        public["created_at"] = self.created_at
        public["description"] = self.description
        public["expiration"] = self.expiration
        public["last_uses"] = dict(self.last_uses)
        return public


@dataclass(frozen=True)
class Server:
    id: str
    host: str
    username: str
    password: str
    label: str | None = None
    allow_unauthorized: bool = False
    read_only: bool = False
    enabled: bool = True
    http_proxy: str | None = None

    def __repr__(self) -> str:  # never let the password reach a log line
        return f"Server(id={self.id!r}, host={self.host!r}, username={self.username!r}, label={self.label!r})"


@dataclass(frozen=True)
class PluginConfig:
    id: str
    autoload: bool = True
    configuration: dict[str, Any] | None = None
