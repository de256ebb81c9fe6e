-- Commerce core: catalog, users, carts (embedded store), orders, payments,
-- refunds, idempotency keys and the outbox.
--
-- Money is BIGINT minor units with an ISO 4217 code beside it; never a float.
-- Times that SQL compares (expiry, locks) are BIGINT Unix milliseconds, so the
-- same statements run on SQLite; times shown to people are TIMESTAMPTZ.

CREATE TABLE categories (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_slug TEXT REFERENCES categories (slug),
    -- slugs from the root down, joined by '/'; "C" collation so that a subtree
    -- is the range [path || '/', path || '0')
    path        TEXT COLLATE "C" NOT NULL UNIQUE,
    position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id            UUID PRIMARY KEY,
    sku           TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    brand         TEXT NOT NULL,
    category_slug TEXT NOT NULL REFERENCES categories (slug),
    category_path TEXT COLLATE "C" NOT NULL,
    attributes    JSONB NOT NULL,
    images        JSONB NOT NULL,
    price_minor   BIGINT NOT NULL CHECK (price_minor >= 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    stock         BIGINT NOT NULL CHECK (stock >= 0),
    popularity    BIGINT NOT NULL DEFAULT 0,
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX products_by_category_popularity ON products (category_path, popularity DESC, id);
CREATE INDEX products_by_category_price ON products (category_path, price_minor, id);
CREATE INDEX products_by_brand ON products (brand);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('shopper', 'store_manager', 'super_admin', 'partner')),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- each refresh marks the presented token used and issues the next one in the
-- same family. Presenting a used token revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY,
    family_id     UUID NOT NULL,
    user_id       UUID NOT NULL REFERENCES users (id),
    issued_at_ms  BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    revoked_at_ms BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Carts for the embedded store (Redis holds them when configured).
CREATE TABLE carts (
    id            UUID PRIMARY KEY,
    body          JSONB NOT NULL,
    version       BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX carts_by_expiry ON carts (expires_at_ms);

CREATE TABLE user_carts (
    user_id UUID PRIMARY KEY,
    cart_id UUID NOT NULL
);

CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    cart_id          UUID NOT NULL UNIQUE,
    customer_id      UUID REFERENCES users (id),
    email            TEXT,
    status           TEXT NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'fulfilled', 'cancelled', 'refunded', 'partially_refunded')),
    currency         TEXT NOT NULL,
    subtotal_minor   BIGINT NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor   BIGINT NOT NULL CHECK (discount_minor >= 0),
    shipping_minor   BIGINT NOT NULL CHECK (shipping_minor >= 0),
    total_minor      BIGINT NOT NULL CHECK (total_minor >= 0),
    refunded_minor   BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= total_minor),
    idempotency_key  TEXT,
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at);
CREATE INDEX orders_by_status ON orders (status, created_at);

CREATE TABLE order_lines (
    order_id         UUID NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    cart_line_id     UUID NOT NULL,
    product_id       UUID NOT NULL REFERENCES products (id),
    product_version  BIGINT NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor BIGINT NOT NULL CHECK (line_total_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_adjustments (
    order_id       UUID NOT NULL REFERENCES orders (id),
    position       INTEGER NOT NULL,
    level          TEXT NOT NULL CHECK (level IN ('line', 'order', 'shipping')),
    cart_line_id   UUID,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    reason         TEXT NOT NULL,
    coupon_code    TEXT,
    plugin_name    TEXT,
    plugin_version TEXT,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE order_events (
    order_id    UUID NOT NULL REFERENCES orders (id),
    position    INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_id    UUID,
    note        TEXT,
    at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE payments (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id),
    provider     TEXT NOT NULL,
    reference    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, reference)
);
CREATE INDEX payments_by_order ON payments (order_id);

CREATE TABLE refunds (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected')),
    requested_by UUID REFERENCES users (id),
    decided_by   UUID REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    decided_at   TIMESTAMPTZ
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
    response_body BYTEA,
    locked_at_ms  BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at_ms);

-- Every committed change, written in the same transaction as the change.
-- The relay (sync pipeline) publishes rows in seq order and marks them.
CREATE TABLE outbox (
    seq            BIGSERIAL PRIMARY KEY,
    topic          TEXT NOT NULL,
    entity         TEXT NOT NULL,
    surrogate_keys JSONB NOT NULL,
    payload        JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    published_at   TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
