-- Journey runs: each person's durable position in a journey. Keep in step
-- with ../postgres/.
CREATE TABLE engage_journey_runs (
    id INTEGER PRIMARY KEY,
    journey TEXT NOT NULL,
    person_id TEXT NOT NULL,
    -- active | completed | converted | exited
    status TEXT NOT NULL,
    -- index of the step to run next (or being waited on)
    step INTEGER NOT NULL,
    -- when the current wait ends (NULL: not waiting on time)
    wake_at_us INTEGER,
    -- event the current step waits for (empty: none)
    waiting_event TEXT NOT NULL DEFAULT '',
    -- JSON object of template variables captured at entry
    context TEXT NOT NULL,
    entered_at_us INTEGER NOT NULL,
    ended_at_us INTEGER,
    end_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX engage_journey_runs_active ON engage_journey_runs (journey, person_id) WHERE status = 'active';
CREATE INDEX engage_journey_runs_person ON engage_journey_runs (person_id, status);
CREATE INDEX engage_journey_runs_wake ON engage_journey_runs (status, wake_at_us);

-- Events seen by a run after entry, for branches ("if ordered since entry").
CREATE TABLE engage_journey_seen (
    run_id INTEGER NOT NULL REFERENCES engage_journey_runs (id),
    event TEXT NOT NULL,
    at_us INTEGER NOT NULL
);
CREATE INDEX engage_journey_seen_run ON engage_journey_seen (run_id, event);
