-- Who a campaign reached and how: one row per audience member. Keep in step
-- with ../postgres/.
CREATE TABLE engage_campaign_members (
    campaign TEXT NOT NULL,
    person_id TEXT NOT NULL,
    -- the arm name, or 'holdout' / 'not_eligible'
    arm TEXT NOT NULL,
    treated INTEGER NOT NULL,
    message_id INTEGER,
    -- scheduled | suppressed:<reason> | control | holdout | not_eligible
    outcome TEXT NOT NULL,
    offer_issued INTEGER NOT NULL DEFAULT 0,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (campaign, person_id)
);
