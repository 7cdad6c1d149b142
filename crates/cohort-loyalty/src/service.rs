//! [`Loyalty`]: the engine's API. Writes are queued to the writer (group
//! commit, one transaction per batch, a savepoint per request) and answered
//! after the commit; reads go straight to the pool.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use cohort_model::{Clock, Money, OrderId, ShopTime, UserId};
use sqlx::{AnyPool, Connection, Row};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::command::{Command, Env, Reply, Sweep};
use crate::coupons::{self, Checkout, CheckoutQuote, Coupon, CouponId, CouponTemplate, OrderCoupons, TemplateId};
use crate::db::{self, Backend};
use crate::points::{self, Activity, ActivityReceipt, PointsBalance, RedeemReceipt, Redemption, RefundReceipt};
use crate::reports::{self, CouponReport, PointsUsage};
use crate::sql::Conn;
use crate::tiers::{self, Membership, TierChange, TierReview};
use crate::verify::{self, VerifyReport};
use crate::writer::{self, Job, Shared};
use crate::{IdempotencyKey, LedgerEntry, LoyaltyConfig, LoyaltyError, Points, TransferReceipt};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// How the store runs its writers and pool; `None` picks the backend's
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Writer tasks. SQLite: 1 (it has one writer at a time anyway).
    /// PostgreSQL: 8.
    pub writers: Option<usize>,
    /// Most requests committed together in one transaction. SQLite: 256
    /// (group commit). PostgreSQL: 1 (the server groups commits of
    /// concurrent connections itself, and one request per transaction keeps
    /// row locks few and ordered, so writers never deadlock).
    pub max_batch: Option<usize>,
    /// Connections in the pool (writers and readers). Default: writers + 8.
    pub max_connections: Option<u32>,
}

/// The loyalty engine on one state store.
pub struct Loyalty {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Job>,
    writers: Vec<JoinHandle<()>>,
}

macro_rules! expect_reply {
    ($reply:expr, $variant:path) => {
        match $reply {
            $variant(value) => Ok(value),
            other => Err(LoyaltyError::corrupt(format!("unexpected reply {other:?}"))),
        }
    };
}

impl Loyalty {
    /// Opens the store at `url` (`sqlite://path?mode=rwc` or
    /// `postgres://…`), applies migrations and starts the writer.
    pub async fn open(url: &str, config: LoyaltyConfig, shop: ShopTime, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_with(url, config, shop, clock, StoreOptions::default()).await
    }

    /// Opens (creating if needed) a SQLite file.
    pub async fn open_sqlite(
        path: &Path,
        config: LoyaltyConfig,
        shop: ShopTime,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::open(&db::sqlite_url(path), config, shop, clock).await
    }

    /// [`Loyalty::open`] with explicit options.
    pub async fn open_with(
        url: &str,
        config: LoyaltyConfig,
        shop: ShopTime,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Self> {
        config.validate()?;
        let backend = Backend::from_url(url)?;
        let (default_writers, default_batch) = match backend {
            Backend::Sqlite => (1, 256),
            Backend::Postgres => (8, 1),
        };
        let writers = options.writers.unwrap_or(default_writers).max(1);
        let max_batch = options.max_batch.unwrap_or(default_batch).max(1);
        let connections = options.max_connections.unwrap_or(writers as u32 + 8).max(writers as u32 + 1);
        let (pool, backend) = db::connect(url, connections).await?;
        let shared = Arc::new(Shared { pool, backend, config, shop, clock });
        let (queue, writers) = match db::sqlite_file(url)? {
            // SQLite files get the in-thread writer (one writer anyway).
            Some(path) => writer::sqlite::spawn(Arc::clone(&shared), writer::sqlite::open(&path)?, max_batch)?,
            None => writer::spawn(Arc::clone(&shared), writers, max_batch),
        };
        Ok(Loyalty { shared, queue, writers })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// The configuration in force.
    pub fn config(&self) -> &LoyaltyConfig {
        &self.shared.config
    }

    /// The connection pool, for read-only inspection (tests, exports).
    pub fn pool(&self) -> &AnyPool {
        &self.shared.pool
    }

    /// Stops the writers after the queued requests and closes the pool.
    pub async fn close(self) {
        drop(self.queue);
        for w in self.writers {
            let _ = w.await;
        }
        self.shared.pool.close().await;
    }

    async fn submit(&self, key: Option<&IdempotencyKey>, cmd: Command) -> Result<Reply> {
        let (tx, rx) = oneshot::channel();
        let job = Job { key: key.cloned(), cmd, reply: tx };
        self.queue.send(job).await.map_err(|_| LoyaltyError::WriterStopped)?;
        rx.await.map_err(|_| LoyaltyError::WriterStopped)?
    }

    fn env(&self) -> Env<'_> {
        Env::new(&self.shared.config, self.shared.shop, self.shared.clock.now())
    }

    // ---- points ----

    /// Records an activity (order paid, review, share, check-in): earns
    /// points (within daily caps) and growth, and upgrades the tier at once
    /// if the growth qualifies.
    pub async fn record_activity(
        &self,
        key: &IdempotencyKey,
        user: &UserId,
        activity: Activity,
    ) -> Result<ActivityReceipt> {
        let reply = self.submit(Some(key), Command::Activity { user: user.clone(), activity }).await?;
        expect_reply!(reply, Reply::Activity)
    }

    /// Spends points on part of an order or on an exchange.
    pub async fn redeem(
        &self,
        key: &IdempotencyKey,
        user: &UserId,
        points: Points,
        redemption: Redemption,
    ) -> Result<RedeemReceipt> {
        let reply = self.submit(Some(key), Command::Redeem { user: user.clone(), points, redemption }).await?;
        expect_reply!(reply, Reply::Redeem)
    }

    /// Applies a (partial) cash refund of an order to points and growth.
    pub async fn refund(
        &self,
        key: &IdempotencyKey,
        user: &UserId,
        order: &OrderId,
        amount: Money,
    ) -> Result<RefundReceipt> {
        let cmd = Command::Refund { user: user.clone(), order: order.clone(), amount };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::Refund)
    }

    /// Moves points between members (only if transfers are enabled).
    pub async fn transfer(
        &self,
        key: &IdempotencyKey,
        from: &UserId,
        to: &UserId,
        points: Points,
    ) -> Result<TransferReceipt> {
        let cmd = Command::Transfer { from: from.clone(), to: to.clone(), points };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::Transfer)
    }

    /// Expires due points of up to `limit` members (a scheduled job; debits
    /// also expire the member's due points first).
    pub async fn expire_points(&self, limit: u32) -> Result<Sweep> {
        expect_reply!(self.submit(None, Command::ExpirePoints { limit: i64::from(limit) }).await?, Reply::Sweep)
    }

    /// A member's spendable points, debt and next expiry, as of now.
    pub async fn balance(&self, user: &UserId) -> Result<PointsBalance> {
        let mut conn = self.shared.pool.acquire().await?;
        points::balance(&mut Conn::Any(&mut conn), user, db::to_us(self.shared.clock.now())).await
    }

    /// A member's ledger entries, oldest first.
    pub async fn ledger(&self, user: &UserId) -> Result<Vec<LedgerEntry>> {
        let mut conn = self.shared.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT e.op_id, o.kind, o.at_us, e.account, e.amount FROM loyalty_entries e \
             JOIN loyalty_ops o ON o.id = e.op_id WHERE e.account IN ($1, $2) ORDER BY e.id",
        )
        .bind(format!("member:{user}:available"))
        .bind(format!("member:{user}:debt"))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    operation: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    at: db::from_us(r.try_get(2)?)?,
                    account: r.try_get::<String, _>(3)?.parse()?,
                    amount: Points::new(r.try_get(4)?),
                })
            })
            .collect()
    }

    // ---- tiers ----

    /// A member's tier, review-period growth, next tier and benefits.
    pub async fn membership(&self, user: &UserId) -> Result<Membership> {
        let mut conn = self.shared.pool.acquire().await?;
        tiers::membership(&mut Conn::Any(&mut conn), &self.env(), user).await
    }

    /// A member's tier changes, oldest first.
    pub async fn tier_history(&self, user: &UserId) -> Result<Vec<TierChange>> {
        let mut conn = self.shared.pool.acquire().await?;
        tiers::history(&mut Conn::Any(&mut conn), user).await
    }

    /// Reviews up to `limit` members whose review or grace period ended
    /// (a scheduled job). The flag says whether more are due.
    pub async fn review_tiers(&self, limit: u32) -> Result<(TierReview, bool)> {
        let reply = self.submit(None, Command::ReviewTiers { limit: i64::from(limit) }).await?;
        match reply {
            Reply::TierReview(review, more) => Ok((review, more)),
            other => Err(LoyaltyError::corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    // ---- coupons ----

    /// Stores a coupon template; returns whether it was new (the same
    /// definition again is accepted, a different one under the same id is not).
    pub async fn create_template(&self, template: CouponTemplate) -> Result<bool> {
        template.validate()?;
        expect_reply!(self.submit(None, Command::CreateTemplate { template }).await?, Reply::TemplateCreated)
    }

    /// Issues a coupon of a template to a member, within the audience,
    /// per-member limit, quantity cap and budget.
    pub async fn issue_coupon(&self, key: &IdempotencyKey, user: &UserId, template: &TemplateId) -> Result<Coupon> {
        let cmd = Command::IssueCoupon { user: user.clone(), template: template.clone() };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::Coupon)
    }

    /// Prices coupons on a checkout without locking them.
    pub async fn quote(&self, user: &UserId, checkout: &Checkout, coupons: &[CouponId]) -> Result<CheckoutQuote> {
        let mut conn = self.shared.pool.acquire().await?;
        coupons::store::evaluate(&mut Conn::Any(&mut conn), &self.env(), user, checkout, coupons).await
    }

    /// Locks compatible coupons on an order at checkout (at most one goods
    /// discount and one free-shipping coupon).
    pub async fn lock_coupons(
        &self,
        key: &IdempotencyKey,
        user: &UserId,
        checkout: &Checkout,
        coupons: &[CouponId],
    ) -> Result<CheckoutQuote> {
        let cmd = Command::LockCoupons { user: user.clone(), checkout: checkout.clone(), coupons: coupons.to_vec() };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::Quote)
    }

    /// Marks an order's locked coupons redeemed (the order was paid).
    pub async fn redeem_coupons(&self, key: &IdempotencyKey, user: &UserId, order: &OrderId) -> Result<OrderCoupons> {
        let cmd = Command::RedeemCoupons { user: user.clone(), order: order.clone() };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::OrderCoupons)
    }

    /// Releases an order's locked coupons (the order was cancelled).
    pub async fn release_coupons(&self, key: &IdempotencyKey, user: &UserId, order: &OrderId) -> Result<OrderCoupons> {
        let cmd = Command::ReleaseCoupons { user: user.clone(), order: order.clone() };
        expect_reply!(self.submit(Some(key), cmd).await?, Reply::OrderCoupons)
    }

    /// Expires up to `limit` unused coupons past their validity (a scheduled job).
    pub async fn expire_coupons(&self, limit: u32) -> Result<Sweep> {
        expect_reply!(self.submit(None, Command::ExpireCoupons { limit: i64::from(limit) }).await?, Reply::Sweep)
    }

    /// A member's coupons, newest first.
    pub async fn coupons(&self, user: &UserId) -> Result<Vec<Coupon>> {
        let mut conn = self.shared.pool.acquire().await?;
        coupons::store::list(&mut Conn::Any(&mut conn), user, db::to_us(self.shared.clock.now())).await
    }

    /// Grants the member's tier its free-shipping coupons for the current
    /// shop-local month (idempotent per member and month).
    pub async fn grant_monthly_coupons(&self, user: &UserId) -> Result<Vec<Coupon>> {
        let cfg = &self.shared.config.tiers;
        let Some(template) = cfg.free_shipping_template.as_deref() else { return Ok(Vec::new()) };
        let template = TemplateId::new(template)?;
        let membership = self.membership(user).await?;
        let today = self.shared.shop.date(self.shared.clock.now());
        let mut out = Vec::new();
        for i in 0..membership.benefits.monthly_free_shipping_coupons {
            let key = IdempotencyKey::new(format!(
                "benefit:free-shipping:{user}:{:04}-{:02}:{i}",
                today.year(),
                today.month()
            ))?;
            out.push(self.issue_coupon(&key, user, &template).await?);
        }
        Ok(out)
    }

    /// Grants the member's tier its birthday coupon for the current year, if
    /// the tier has one (idempotent per member and year).
    pub async fn grant_birthday_coupon(&self, user: &UserId) -> Result<Option<Coupon>> {
        let cfg = &self.shared.config.tiers;
        let Some(template) = cfg.birthday_template.as_deref() else { return Ok(None) };
        let template = TemplateId::new(template)?;
        if !self.membership(user).await?.benefits.birthday_coupon {
            return Ok(None);
        }
        let year = self.shared.shop.date(self.shared.clock.now()).year();
        let key = IdempotencyKey::new(format!("benefit:birthday:{user}:{year}"))?;
        Ok(Some(self.issue_coupon(&key, user, &template).await?))
    }

    // ---- reports and verification ----

    /// Points issued, redeemed, expired and clawed back over `[from, to)`,
    /// and the usage rate.
    pub async fn points_usage(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<PointsUsage> {
        let mut conn = self.shared.pool.acquire().await?;
        reports::points_usage(&mut conn, from, to).await
    }

    /// Coupon figures for coupons issued over `[from, to)`.
    pub async fn coupon_report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CouponReport> {
        let mut conn = self.shared.pool.acquire().await?;
        reports::coupon_report(&mut conn, from, to).await
    }

    /// Recomputes every balance from the ledger and checks every invariant
    /// on one consistent snapshot (`cohort points verify`).
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut conn = self.shared.pool.acquire().await?;
        let begin = match self.shared.backend {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = conn.begin_with(begin).await?;
        let report = verify::verify(&mut tx).await?;
        tx.rollback().await?;
        Ok(report)
    }
}
