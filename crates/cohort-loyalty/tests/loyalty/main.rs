//! Integration tests of the loyalty engine. Every rule test is a
//! conformance case: it runs on SQLite and on PostgreSQL — a throwaway local
//! server the test starts on loopback, or the one `COHORT_TEST_POSTGRES_URL`
//! names (an admin connection string); each case creates its own database.

mod common;
mod concurrency;
mod coupons;
mod crash;
mod pg;
mod points;
mod tiers;

use common::{Case, Target};

macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every conformance case, by name.
        const CASES: &[(&str, Case)] = &[$((stringify!($name), |t| Box::pin($module::$name(t)))),*];

        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$module::$name(crate::common::Target::Sqlite).await;
                }
            )*
        }
    };
}

conformance!(
    points::earn_rules_and_daily_caps,
    points::idempotent_replay_and_key_reuse,
    points::redeem_in_orders_and_exchange,
    points::refund_after_partial_redemption_records_debt,
    points::partial_refunds_add_up_and_restore_points,
    points::expiry_at_shop_midnight,
    points::fifo_lots_with_day_expiry,
    points::transfers_off_by_default_and_on_when_enabled,
    points::verify_detects_tampering,
    tiers::upgrade_at_threshold_immediately,
    tiers::downgrade_after_review_and_grace,
    tiers::downgrade_lands_on_the_qualified_tier,
    tiers::benefit_coupons_follow_the_tier,
    coupons::threshold_exact_amount_and_report,
    coupons::validity_ends_at_shop_midnight,
    coupons::fixed_dates_and_locked_coupon_expiring,
    coupons::limits_caps_and_budget,
    coupons::compatibility_categories_and_audiences,
    coupons::lock_release_redeem_cycle,
    concurrency::concurrent_random_operations,
);

/// The same cases on PostgreSQL: on the server `COHORT_TEST_POSTGRES_URL`
/// names, or on a throwaway local one (skipped with a notice when the server
/// binaries are missing, a failure under `CI=true`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    let (url, _server) = match pg::PgServer::start() {
        Err(url) => (url, None),
        Ok(Some(server)) => (server.url.clone(), Some(server)),
        Ok(None) => return,
    };
    for (name, case) in CASES {
        let started = std::time::Instant::now();
        case(Target::Postgres(url.clone())).await;
        eprintln!("postgres: {name} ok in {:.1?}", started.elapsed());
    }
}
