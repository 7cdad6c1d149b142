-- Who a campaign reached and how: one row per audience member. Keep in step
-- with ../sqlite/.
CREATE TABLE engage_campaign_members (
    campaign TEXT NOT NULL,
    person_id TEXT NOT NULL,
    -- the arm name, or 'holdout' / 'not_eligible'
    arm TEXT NOT NULL,
    treated BIGINT NOT NULL,
    message_id BIGINT,
    -- scheduled | suppressed:<reason> | control | holdout | not_eligible
    outcome TEXT NOT NULL,
    offer_issued BIGINT NOT NULL DEFAULT 0,
    at_us BIGINT NOT NULL,
    PRIMARY KEY (campaign, person_id)
);
