-- Campaign definitions as launched (the spec as JSON and where its audience
-- came from), so status and measurement need only the id. Keep in step with
-- the other backend's copy.
CREATE TABLE engage_campaigns (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);
