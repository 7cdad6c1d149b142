-- Cohort's embedded event store. Instants are UTC TIMESTAMPs; money is
-- integer fen; JSON objects are stored as text. No primary keys on the big
-- tables: deduplication happens once per write (anti-join against staged
-- rows), which keeps bulk appends fast.
CREATE TABLE IF NOT EXISTS events (
    event_id     VARCHAR NOT NULL,
    person_id    VARCHAR,
    user_id      VARCHAR,
    anonymous_id VARCHAR,
    event        VARCHAR NOT NULL,
    ts           TIMESTAMP NOT NULL,
    platform     VARCHAR,
    channel      VARCHAR,
    product_id   VARCHAR,
    category     VARCHAR,
    price_fen    BIGINT,
    quantity     BIGINT,
    order_id     VARCHAR,
    revenue_fen  BIGINT,
    discount_fen BIGINT,
    coupon       VARCHAR,
    query        VARCHAR,
    rating       UTINYINT,
    review_body  VARCHAR,
    properties   VARCHAR
);
CREATE TABLE IF NOT EXISTS orders (
    order_id     VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    person_id    VARCHAR,
    user_id      VARCHAR,
    anonymous_id VARCHAR,
    placed_at    TIMESTAMP NOT NULL,
    platform     VARCHAR,
    channel      VARCHAR,
    total_fen    BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    shipping_fen BIGINT NOT NULL,
    coupon       VARCHAR,
    refund_of    VARCHAR,
    properties   VARCHAR
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id       VARCHAR NOT NULL,
    line_no        UINTEGER NOT NULL,
    product_id     VARCHAR NOT NULL,
    quantity       BIGINT NOT NULL,
    unit_price_fen BIGINT NOT NULL,
    category       VARCHAR
);
CREATE TABLE IF NOT EXISTS users (
    user_id       VARCHAR NOT NULL,
    registered_at TIMESTAMP,
    platform      VARCHAR,
    channel       VARCHAR,
    birthday      DATE,
    gender        VARCHAR,
    city          VARCHAR,
    phone         VARCHAR,
    traits        VARCHAR
);
CREATE TABLE IF NOT EXISTS products (
    product_id  VARCHAR NOT NULL,
    name        VARCHAR,
    category    VARCHAR,
    price_fen   BIGINT,
    brand       VARCHAR,
    launched_at TIMESTAMP,
    consumable  BOOLEAN NOT NULL,
    in_stock    BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
    import_id   BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,
    file        VARCHAR,
    checksum    VARCHAR,
    rows_read   BIGINT NOT NULL,
    summary     VARCHAR NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_rows (
    import_id BIGINT NOT NULL,
    file      VARCHAR NOT NULL,
    line      BIGINT NOT NULL,
    reason    VARCHAR NOT NULL,
    raw       VARCHAR NOT NULL
);
-- Derived: replaced as a whole by `cohort compute`. Segment columns are typed
-- for filtering; `doc` holds the complete profile as JSON.
CREATE TABLE IF NOT EXISTS profiles (
    person_id        VARCHAR NOT NULL,
    as_of            TIMESTAMP NOT NULL,
    value_tier       VARCHAR NOT NULL,
    lifecycle        VARCHAR NOT NULL,
    behaviour        VARCHAR NOT NULL,
    rfm_segment      VARCHAR,
    rfm_r            UTINYINT,
    rfm_f            UTINYINT,
    rfm_m            UTINYINT,
    recency_days     BIGINT,
    inactive_days    BIGINT NOT NULL,
    orders_lifetime  BIGINT NOT NULL,
    monetary_fen     BIGINT NOT NULL,
    top_category     VARCHAR,
    doc              VARCHAR NOT NULL
);
-- Identity stitching: the current person of every anonymous / user id (one
-- row per (kind, id)), and every merge of one person into another.
CREATE TABLE IF NOT EXISTS identity_links (
    kind      VARCHAR NOT NULL,
    id        VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    via       VARCHAR NOT NULL,
    linked_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS person_merges (
    seq         BIGINT NOT NULL,
    from_person VARCHAR NOT NULL,
    into_person VARCHAR NOT NULL,
    via         VARCHAR NOT NULL,
    merged_at   TIMESTAMP NOT NULL
);
-- The collector's message-id window: every event id it appended, with when
-- it was seen, so a restarted collector reloads the window (ids older than
-- the window are deleted).
CREATE TABLE IF NOT EXISTS seen_event_ids (
    event_id VARCHAR NOT NULL,
    seen_at  TIMESTAMP NOT NULL
);
-- Marketing spend per shop-local day and acquisition channel (`cohort
-- import spend`), the numerator of CAC on the KPI board.
CREATE TABLE IF NOT EXISTS marketing_spend (
    day       DATE NOT NULL,
    channel   VARCHAR NOT NULL,
    spend_fen BIGINT NOT NULL,
    PRIMARY KEY (day, channel)
);
-- Per-person model outputs (churn risk, behaviour cluster, CLV, sentiment…):
-- one row per (person, model), replaced a model at a time by the command that
-- scores it. `label` is a short reading of the score (a cluster name, a risk
-- band); `detail` holds the model's explanation as JSON.
CREATE TABLE IF NOT EXISTS person_scores (
    person_id   VARCHAR NOT NULL,
    model       VARCHAR NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    score       DOUBLE NOT NULL,
    label       VARCHAR,
    detail      JSON,
    PRIMARY KEY (person_id, model)
);
-- Tags and audiences (cohort-audience): each person's current tags, every
-- tag gained or lost (`seq` orders the history), tag rules created through
-- the API, saved audiences and the members of static snapshots.
CREATE TABLE IF NOT EXISTS person_tags (
    person_id VARCHAR NOT NULL,
    tag       VARCHAR NOT NULL,
    since     TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS tag_history (
    seq       BIGINT NOT NULL,
    person_id VARCHAR NOT NULL,
    tag       VARCHAR NOT NULL,
    change    VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    source    VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS tag_rules (
    name        VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    condition   VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audiences (
    audience_id VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    filter_text VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audience_members (
    audience_id VARCHAR NOT NULL,
    person_id   VARCHAR NOT NULL
);
