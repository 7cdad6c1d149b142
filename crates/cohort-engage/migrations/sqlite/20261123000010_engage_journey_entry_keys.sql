-- Entry keys: a job that enters people (the daily wake-up / recall /
-- replenishment / birthday job) names each entry ("wake_up_light" for the
-- silence that began on 2024-03-17, "birthday" of 2024), so running it again
-- enters nobody twice whatever the journey's re-entry rule. Empty for
-- event-triggered entries. Keep in step with the other backend's copy.
ALTER TABLE engage_journey_runs ADD COLUMN entry_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX engage_journey_runs_entry_key ON engage_journey_runs (journey, person_id, entry_key)
    WHERE entry_key <> '';
