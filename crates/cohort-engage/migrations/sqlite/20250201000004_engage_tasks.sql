-- Tasks a journey hands to people (a service call to a high-value silent
-- member). Keep in step with ../postgres/.
CREATE TABLE engage_tasks (
    id INTEGER PRIMARY KEY,
    list TEXT NOT NULL,
    person_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    UNIQUE (run_id, step)
);
CREATE INDEX engage_tasks_list ON engage_tasks (list, created_at_us);
