-- Initial schema of xo-server's own data (XAPI objects are never stored: they live in pools).
-- JSON columns hold text produced by the application (json.dumps), never parsed by SQLite.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT,                           -- argon2id encoded hash; NULL: no password sign-in
    permission      TEXT NOT NULL DEFAULT 'none',   -- none | read | write | admin
    preferences     TEXT NOT NULL DEFAULT '{}',     -- JSON object
    auth_providers  TEXT,                           -- JSON object, NULL when local only
    created_at      INTEGER NOT NULL                -- ms since epoch
);

CREATE TABLE groups (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    provider            TEXT,
    provider_group_id   TEXT
);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,                   -- keeps the order users were added in
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE acls (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,                      -- user or group id
    object      TEXT NOT NULL,                      -- XO object id
    action      TEXT NOT NULL,                      -- role: viewer | operator | admin
    UNIQUE (subject, object, action)
);
CREATE INDEX acls_by_subject ON acls(subject);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,                   -- 32 random bytes, base64url (the bearer secret)
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT,
    client      TEXT,                               -- JSON object given at creation
    description TEXT,
    created_at  INTEGER NOT NULL,                   -- ms since epoch
    expiration  INTEGER NOT NULL,                   -- ms since epoch
    last_uses   TEXT NOT NULL DEFAULT '{}'          -- JSON {ip: {timestamp}}
);
CREATE INDEX tokens_by_user ON tokens(user_id);

CREATE TABLE servers (
    id                  TEXT PRIMARY KEY,
    host                TEXT NOT NULL UNIQUE,
    username            TEXT NOT NULL,
    password            TEXT NOT NULL,              -- needed to log in to XAPI; never returned by the API
    label               TEXT,
    allow_unauthorized  INTEGER NOT NULL DEFAULT 0,
    read_only           INTEGER NOT NULL DEFAULT 0,
    enabled             INTEGER NOT NULL DEFAULT 1,
    http_proxy          TEXT,
    position            INTEGER NOT NULL            -- insertion order, as XO lists servers
);

CREATE TABLE plugin_configs (
    id              TEXT PRIMARY KEY,
    autoload        INTEGER NOT NULL DEFAULT 1,
    configuration   TEXT                            -- JSON, NULL when never configured
);

CREATE TABLE settings (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL                           -- JSON
);
