-- Cohort engage state store (SQLite). Keep in step with ../postgres/: the
-- same tables, columns and indexes; only the id column syntax differs.
-- Times are UTC microseconds since the epoch; `send_day` is the shop-local
-- date as days since 1970-01-01.

-- The outbox: one row per message, whatever became of it.
CREATE TABLE engage_messages (
    id INTEGER PRIMARY KEY,
    -- Caller's key (campaign + person, journey step + person): enqueueing
    -- the same key twice yields the first message, never a second send.
    dedupe_key TEXT NOT NULL UNIQUE,
    person_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    class TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending | sending | delivered | dead | suppressed
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL,
    requested_at_us INTEGER NOT NULL,
    send_day INTEGER NOT NULL,
    due_at_us INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until_us INTEGER NOT NULL DEFAULT 0,
    delivered_at_us INTEGER,
    last_http_status INTEGER,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX engage_messages_due ON engage_messages (status, due_at_us);
CREATE INDEX engage_messages_caps ON engage_messages (person_id, send_day);
CREATE INDEX engage_messages_source ON engage_messages (source);

-- Every delivery attempt, for the delivery log and latency figures.
CREATE TABLE engage_attempts (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES engage_messages (id),
    attempt INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    http_status INTEGER,
    -- delivered | retry | dead
    outcome TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    latency_us INTEGER NOT NULL
);
CREATE INDEX engage_attempts_message ON engage_attempts (message_id);

-- Unsubscribes and do-not-contact marks; channel '*' means every channel.
CREATE TABLE engage_contact_prefs (
    person_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (person_id, channel, kind)
);

-- Sticky experiment assignments: the first assignment wins for good.
CREATE TABLE engage_assignments (
    experiment TEXT NOT NULL,
    person_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (experiment, person_id)
);

-- Engagement reported back by a channel or the shop (open, click, order).
CREATE TABLE engage_message_events (
    message_id INTEGER NOT NULL REFERENCES engage_messages (id),
    kind TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (message_id, kind)
);
