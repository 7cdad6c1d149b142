-- Cohort loyalty state store (SQLite). Keep in step with ../postgres/: the
-- same tables, columns and indexes; only the id column syntax differs.
-- Times are UTC microseconds since the epoch; `day` is the shop-local date as
-- days since 1970-01-01; money is fen; every integer is 64-bit.

-- One row per operation, keyed by the caller's idempotency key.
CREATE TABLE loyalty_ops (
    id INTEGER PRIMARY KEY,
    idem_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    user_id TEXT,
    day INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    points INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT ''
);
CREATE INDEX loyalty_ops_caps ON loyalty_ops (user_id, kind, day);
CREATE INDEX loyalty_ops_at ON loyalty_ops (at_us);

-- The append-only double-entry ledger: the entries of one op sum to zero.
CREATE TABLE loyalty_entries (
    id INTEGER PRIMARY KEY,
    op_id INTEGER NOT NULL REFERENCES loyalty_ops (id),
    account TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount <> 0)
);
CREATE INDEX loyalty_entries_op ON loyalty_entries (op_id);
CREATE INDEX loyalty_entries_account ON loyalty_entries (account);

-- Members: cached balances (re-derivable from the ledger) and tier state.
CREATE TABLE loyalty_members (
    user_id TEXT PRIMARY KEY,
    available INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    debt INTEGER NOT NULL DEFAULT 0 CHECK (debt <= 0),
    tier TEXT NOT NULL DEFAULT 'normal',
    tier_since_us INTEGER NOT NULL,
    review_at_us INTEGER,
    grace_until_us INTEGER,
    -- Earliest expiry among the member's open lots, or earlier (never later):
    -- an operation expires due lots first only when this is due.
    next_expiry_us INTEGER,
    version INTEGER NOT NULL DEFAULT 0,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX loyalty_members_review ON loyalty_members (review_at_us);

-- Earned points in lots, consumed first-expiring-first.
CREATE TABLE loyalty_lots (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    op_id INTEGER NOT NULL REFERENCES loyalty_ops (id),
    points INTEGER NOT NULL CHECK (points > 0),
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    expires_at_us INTEGER NOT NULL
);
CREATE INDEX loyalty_lots_open ON loyalty_lots (user_id, expires_at_us, id) WHERE remaining > 0;
CREATE INDEX loyalty_lots_due ON loyalty_lots (expires_at_us) WHERE remaining > 0;

CREATE TABLE loyalty_lot_moves (
    id INTEGER PRIMARY KEY,
    op_id INTEGER NOT NULL REFERENCES loyalty_ops (id),
    lot_id INTEGER NOT NULL REFERENCES loyalty_lots (id),
    points INTEGER NOT NULL CHECK (points > 0)
);
CREATE INDEX loyalty_lot_moves_lot ON loyalty_lot_moves (lot_id);

-- Growth value per member per shop-local day (negative after refunds).
CREATE TABLE loyalty_growth_days (
    user_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE loyalty_tier_history (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    from_tier TEXT NOT NULL,
    to_tier TEXT NOT NULL,
    reason TEXT NOT NULL,
    growth INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    op_id INTEGER REFERENCES loyalty_ops (id)
);
CREATE INDEX loyalty_tier_history_user ON loyalty_tier_history (user_id, id);

-- Orders that earned or redeemed points, for refunds and redemption limits.
CREATE TABLE loyalty_orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    amount_fen INTEGER NOT NULL DEFAULT 0,
    paid_fen INTEGER NOT NULL DEFAULT 0,
    paid_at_us INTEGER,
    earned_points INTEGER NOT NULL DEFAULT 0,
    growth INTEGER NOT NULL DEFAULT 0,
    redeemed_points INTEGER NOT NULL DEFAULT 0,
    refunded_fen INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    clawed_points INTEGER NOT NULL DEFAULT 0,
    restored_points INTEGER NOT NULL DEFAULT 0,
    growth_reversed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX loyalty_orders_user ON loyalty_orders (user_id);

CREATE TABLE loyalty_coupon_templates (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    face_fen INTEGER NOT NULL,
    quantity_cap INTEGER,
    budget_fen INTEGER,
    issued_count INTEGER NOT NULL DEFAULT 0,
    reserved_fen INTEGER NOT NULL DEFAULT 0 CHECK (reserved_fen >= 0),
    spent_fen INTEGER NOT NULL DEFAULT 0 CHECK (spent_fen >= 0),
    created_at_us INTEGER NOT NULL,
    CHECK (quantity_cap IS NULL OR issued_count <= quantity_cap),
    CHECK (budget_fen IS NULL OR reserved_fen + spent_fen <= budget_fen)
);

CREATE TABLE loyalty_coupons (
    id INTEGER PRIMARY KEY,
    template_id TEXT NOT NULL REFERENCES loyalty_coupon_templates (id),
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    order_id TEXT,
    face_fen INTEGER NOT NULL,
    discount_fen INTEGER,
    issued_at_us INTEGER NOT NULL,
    valid_from_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    closed_at_us INTEGER,
    issue_op_id INTEGER NOT NULL REFERENCES loyalty_ops (id)
);
CREATE INDEX loyalty_coupons_user ON loyalty_coupons (user_id, template_id);
CREATE INDEX loyalty_coupons_order ON loyalty_coupons (order_id);
CREATE INDEX loyalty_coupons_due ON loyalty_coupons (expires_at_us) WHERE state = 'available';

-- Every coupon state change, append-only.
CREATE TABLE loyalty_coupon_events (
    id INTEGER PRIMARY KEY,
    coupon_id INTEGER NOT NULL REFERENCES loyalty_coupons (id),
    op_id INTEGER REFERENCES loyalty_ops (id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    order_id TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX loyalty_coupon_events_coupon ON loyalty_coupon_events (coupon_id);

-- Orders with coupons locked or redeemed.
CREATE TABLE loyalty_coupon_orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    goods_fen INTEGER NOT NULL,
    shipping_fen INTEGER NOT NULL,
    discount_fen INTEGER NOT NULL,
    lock_op_id INTEGER NOT NULL REFERENCES loyalty_ops (id),
    locked_at_us INTEGER NOT NULL,
    closed_at_us INTEGER
);
CREATE INDEX loyalty_coupon_orders_user ON loyalty_coupon_orders (user_id, state);
