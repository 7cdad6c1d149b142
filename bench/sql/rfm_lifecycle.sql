-- The RFM + lifecycle job of `cohort compute`, hand-written in DuckDB SQL.
-- Definitions: docs/segments.md (value tiers, quantile RFM, lifecycle
-- stages, with their default thresholds). Behaviour types are not part of
-- this job.
--
-- Conventions (as in Cohort):
--   * as_of is the data's own now: the latest event or order instant;
--   * days are shop-local calendar days in Asia/Shanghai (UTC+8, no DST),
--     and "within N days" means days_between(t, as_of) <= N;
--   * a record belongs to its person_id, else its user_id, else its
--     anonymous_id; a user row belongs to the person named by its user_id;
--   * activity = every event with a known Segment / Cohort name (custom
--     names such as messages sent to the person are not activity) + every
--     order, purchases and refunds alike;
--   * money is integer fen; a negative order total adds nothing.
-- Input: the tables of load.sql. Output: table `profiles`, one row per
-- person known at as_of.

-- The shop-local calendar date of an instant.
CREATE OR REPLACE MACRO shop_date(ts) AS CAST(timezone('Asia/Shanghai', ts) AS DATE);

-- Whether an event name is activity: Cohort's known names, matched ignoring
-- case and ' ', '_', '-' (`EventName::parse`); anything else is custom.
CREATE OR REPLACE MACRO is_activity(name) AS
    lower(regexp_replace(name, '[ _-]', '', 'g')) IN (
        'pageviewed', 'page', 'screen', 'screenviewed', 'visit',
        'productssearched', 'search', 'productlistviewed', 'productviewed', 'pv',
        'productclicked', 'productadded', 'addtocart', 'productremoved',
        'productaddedtowishlist', 'fav', 'cartviewed', 'checkoutstarted',
        'paymentinfoentered', 'ordercompleted', 'ordercancelled', 'ordercanceled',
        'orderrefunded', 'couponapplied', 'productreviewed', 'productshared',
        'checkedin', 'checkin', 'livestreamwatched', 'shortvideowatched');

CREATE OR REPLACE TABLE profiles AS
WITH
-- (Rows without a person, name or time are refused by `cohort import`.)
event_rows AS (
    SELECT coalesce(person_id, user_id, anonymous_id) AS person, event, ts
    FROM events
    WHERE coalesce(person_id, user_id, anonymous_id) IS NOT NULL AND event IS NOT NULL AND ts IS NOT NULL
),
-- orders.csv has one row per order line: one row per order.
orders AS (
    SELECT order_id,
           any_value(coalesce(person_id, user_id, anonymous_id)) AS person,
           any_value(kind) IS DISTINCT FROM 'refund' AS is_purchase,
           any_value(placed_at) AS placed_at,
           any_value(total_fen) AS total_fen
    FROM order_lines
    GROUP BY order_id
),
as_of AS (
    SELECT max(t) AS as_of, shop_date(max(t)) AS today
    FROM (SELECT max(ts) AS t FROM event_rows
          UNION ALL
          SELECT max(placed_at) FROM orders)
),
-- The activity test runs once per distinct name, not once per event.
event_names AS (
    SELECT event, is_activity(event) AS activity
    FROM (SELECT DISTINCT event FROM event_rows)
),
-- Everyone with an event is known (custom events included).
event_activity AS (
    SELECT person,
           min(ts) FILTER (WHERE activity) AS first_active,
           max(ts) FILTER (WHERE activity) AS last_active
    FROM event_rows JOIN event_names USING (event)
    GROUP BY person
),
order_summary AS (
    SELECT person,
           min(placed_at) AS first_order,        -- purchases and refunds
           max(placed_at) AS last_order,
           count(*) FILTER (WHERE is_purchase) AS purchases,
           min(days_ago) FILTER (WHERE is_purchase) AS recency_days,
           count(*) FILTER (WHERE is_purchase AND days_ago <= 365) AS value_orders,
           coalesce(sum(greatest(total_fen, 0)) FILTER (WHERE is_purchase AND days_ago <= 365), 0)
               AS value_monetary
    FROM (SELECT orders.*, today - shop_date(placed_at) AS days_ago FROM orders, as_of)
    WHERE person IS NOT NULL
    GROUP BY person
),
-- Registered users are known unless they registered after as_of.
persons AS (
    SELECT person FROM event_activity
    UNION
    SELECT person FROM order_summary
    UNION
    SELECT user_id FROM users, as_of WHERE registered_at IS NULL OR registered_at <= as_of
),
features AS (
    SELECT p.person,
           coalesce(CASE WHEN u.registered_at <= a.as_of THEN u.registered_at END,
                    least(e.first_active, o.first_order)) AS registered_at,
           greatest(e.last_active, o.last_order) AS last_active,
           coalesce(o.purchases, 0) AS purchases,
           o.recency_days,
           coalesce(o.value_orders, 0) AS value_orders,
           coalesce(o.value_monetary, 0) AS value_monetary,
           a.today
    FROM persons p
    CROSS JOIN as_of a
    LEFT JOIN event_activity e USING (person)
    LEFT JOIN order_summary o USING (person)
    LEFT JOIN users u ON u.user_id = p.person
),
days AS (
    SELECT person, purchases, recency_days, value_orders, value_monetary,
           today - shop_date(registered_at) AS registration_age_days,
           -- Never active: days since registration; neither: "never seen".
           coalesce(today - shop_date(last_active), today - shop_date(registered_at), 36500)
               AS inactive_days
    FROM features
),
segments AS (
    SELECT *,
           CASE
               WHEN purchases = 0 THEN 'prospect'
               WHEN value_orders = 0 THEN 'general'   -- lapsed buyer
               WHEN recency_days <= 30 AND value_orders >= 3
                    AND value_monetary >= 50000 THEN 'high_value'
               WHEN recency_days <= 30 AND value_orders BETWEEN 1 AND 2
                    AND value_monetary >= 20000 AND value_monetary < 50000 THEN 'potential'
               WHEN recency_days >= 90 AND value_orders <= 1
                    AND value_monetary < 20000 THEN 'low_value'
               ELSE 'general'
           END AS value_tier,
           CASE
               WHEN registration_age_days <= 7 THEN 'new'
               WHEN inactive_days <= 29 THEN 'active'
               WHEN inactive_days <= 45 THEN 'silent_light'
               WHEN inactive_days <= 60 THEN 'silent_medium'
               WHEN inactive_days <= 90 THEN 'silent_heavy'
               ELSE 'churned'
           END AS lifecycle
    FROM days
),
-- Quantile RFM among the buyers of the value window:
-- score = 1 + floor(5 × worse / n), worse = buyers with a strictly worse
-- value; rank() - 1 counts exactly those, ties share a rank.
rfm AS (
    SELECT person,
           1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS r,
           1 + (5 * (rank() OVER (ORDER BY value_orders) - 1)) // count(*) OVER () AS f,
           1 + (5 * (rank() OVER (ORDER BY value_monetary) - 1)) // count(*) OVER () AS m
    FROM segments
    WHERE value_orders > 0
)
SELECT s.*,
       rfm.r, rfm.f, rfm.m,
       CASE
           WHEN rfm.r IS NULL THEN NULL
           WHEN rfm.r = 5 AND rfm.f >= 4 THEN 'champions'
           WHEN rfm.r IN (3, 4) AND rfm.f >= 4 THEN 'loyal_customers'
           WHEN rfm.r IN (4, 5) AND rfm.f IN (2, 3) THEN 'potential_loyalists'
           WHEN rfm.r = 5 THEN 'new_customers'
           WHEN rfm.r = 4 THEN 'promising'
           WHEN rfm.r = 3 AND rfm.f = 3 THEN 'need_attention'
           WHEN rfm.r = 3 THEN 'about_to_sleep'
           WHEN rfm.f = 5 THEN 'cant_lose'
           WHEN rfm.f IN (3, 4) THEN 'at_risk'
           ELSE 'hibernating'
       END AS rfm_segment
FROM segments s
LEFT JOIN rfm USING (person);
