-- Commerce core: catalog, users, carts (embedded store), orders, payments,
-- refunds, idempotency keys and the outbox.
--
-- Money is INTEGER minor units with an ISO 4217 code beside it; never a float.
-- Times that SQL compares (expiry, locks) are INTEGER Unix milliseconds, so the
-- same statements run on SQLite; times shown to people are TEXT.

CREATE TABLE categories (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_slug TEXT REFERENCES categories (slug),
    -- slugs from the root down, joined by '/'; SQLite compares bytewise, so a
    -- subtree is the range [path || '/', path || '0')
    path        TEXT NOT NULL UNIQUE,
    position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id            BLOB PRIMARY KEY,
    sku           TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    brand         TEXT NOT NULL,
    category_slug TEXT NOT NULL REFERENCES categories (slug),
    category_path TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    images        TEXT NOT NULL,
    price_minor   INTEGER NOT NULL CHECK (price_minor >= 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    stock         INTEGER NOT NULL CHECK (stock >= 0),
    popularity    INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX products_by_category_popularity ON products (category_path, popularity DESC, id);
CREATE INDEX products_by_category_price ON products (category_path, price_minor, id);
CREATE INDEX products_by_brand ON products (brand);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('shopper', 'store_manager', 'super_admin', 'partner')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- each refresh marks the presented token used and issues the next one in the
-- same family. Presenting a used token revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY,
    family_id     BLOB NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id),
    issued_at_ms  INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER,
    revoked_at_ms INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Carts for the embedded store (Redis holds them when configured).
CREATE TABLE carts (
    id            BLOB PRIMARY KEY,
    body          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX carts_by_expiry ON carts (expires_at_ms);

CREATE TABLE user_carts (
    user_id BLOB PRIMARY KEY,
    cart_id BLOB NOT NULL
);

CREATE TABLE orders (
    id               BLOB PRIMARY KEY,
    cart_id          BLOB NOT NULL UNIQUE,
    customer_id      BLOB REFERENCES users (id),
    email            TEXT,
    status           TEXT NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'fulfilled', 'cancelled', 'refunded', 'partially_refunded')),
    currency         TEXT NOT NULL,
    subtotal_minor   INTEGER NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor   INTEGER NOT NULL CHECK (discount_minor >= 0),
    shipping_minor   INTEGER NOT NULL CHECK (shipping_minor >= 0),
    total_minor      INTEGER NOT NULL CHECK (total_minor >= 0),
    refunded_minor   INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= total_minor),
    idempotency_key  TEXT,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at);
CREATE INDEX orders_by_status ON orders (status, created_at);

CREATE TABLE order_lines (
    order_id         BLOB NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    cart_line_id     BLOB NOT NULL,
    product_id       BLOB NOT NULL REFERENCES products (id),
    product_version  INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor INTEGER NOT NULL CHECK (line_total_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_adjustments (
    order_id       BLOB NOT NULL REFERENCES orders (id),
    position       INTEGER NOT NULL,
    level          TEXT NOT NULL CHECK (level IN ('line', 'order', 'shipping')),
    cart_line_id   BLOB,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    reason         TEXT NOT NULL,
    coupon_code    TEXT,
    plugin_name    TEXT,
    plugin_version TEXT,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE order_events (
    order_id    BLOB NOT NULL REFERENCES orders (id),
    position    INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_id    BLOB,
    note        TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE payments (
    id           BLOB PRIMARY KEY,
    order_id     BLOB NOT NULL REFERENCES orders (id),
    provider     TEXT NOT NULL,
    reference    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (provider, reference)
);
CREATE INDEX payments_by_order ON payments (order_id);

CREATE TABLE refunds (
    id           BLOB PRIMARY KEY,
    order_id     BLOB NOT NULL REFERENCES orders (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected')),
    requested_by BLOB REFERENCES users (id),
    decided_by   BLOB REFERENCES users (id),
    created_at   TEXT NOT NULL,
    decided_at   TEXT
);
CREATE INDEX refunds_by_status ON refunds (status, created_at);
CREATE INDEX refunds_by_order ON refunds (order_id);

-- A request with an Idempotency-Key claims (scope, key) before it runs and
-- stores its response after; a repeat replays the stored response.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER,
    content_type  TEXT,
    response_body BLOB,
    locked_at_ms  INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at_ms);

-- Every committed change, written in the same transaction as the change.
-- The relay (sync pipeline) publishes rows in seq order and marks them.
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic          TEXT NOT NULL,
    entity         TEXT NOT NULL,
    surrogate_keys TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    published_at   TEXT
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
