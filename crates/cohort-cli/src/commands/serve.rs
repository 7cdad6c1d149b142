//! `cohort serve`: the collection service.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use cohort_engage::journey::entry::EntrySources;
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_loyalty::Loyalty;
use cohort_model::SystemClock;
use cohort_server::{AnalyticsService, EngageService, LoyaltyIssuer, Server, Services, StoreDirectory};
use cohort_store::{AudienceStore, EventStore};

use super::Context;

/// Arguments of `cohort serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free one); overrides `[server] listen`.
    #[arg(long, env = "COHORT_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Accepted write key (repeat, or comma-separated in COHORT_WRITE_KEYS); overrides `[server] write_keys`.
    #[arg(long = "write-key", env = "COHORT_WRITE_KEYS", value_delimiter = ',', value_name = "KEY")]
    pub write_keys: Vec<String>,
    /// Secret admin key for the loyalty, coupon and query routes (repeat, or
    /// comma-separated in COHORT_ADMIN_KEYS); overrides `[server] admin_keys`.
    #[arg(long = "admin-key", env = "COHORT_ADMIN_KEYS", value_delimiter = ',', value_name = "KEY")]
    pub admin_keys: Vec<String>,
    /// The loyalty state store (`sqlite://…` or `postgres://…`); default
    /// `loyalty.sqlite` in the store directory.
    #[arg(long, env = "COHORT_LOYALTY_URL", value_name = "URL")]
    pub loyalty_url: Option<String>,
}

pub fn run(ctx: Context, args: Args) -> anyhow::Result<()> {
    let mut config = ctx.config.server.clone();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.write_keys.is_empty() {
        config.write_keys = args.write_keys;
    }
    if !args.admin_keys.is_empty() {
        config.admin_keys = args.admin_keys;
    }
    let store_dir = ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")?;
    let keys_file = super::keys::keys_file(store_dir);
    let stored = cohort_server::keys::list(&keys_file)?.iter().filter(|k| k.revoked_at.is_none()).count();
    if stored == 0 && config.write_keys.is_empty() && config.admin_keys.is_empty() {
        bail!(
            "no key: create one with `cohort keys create --role write` (or set `[server] write_keys`, \
             COHORT_WRITE_KEYS or --write-key)"
        );
    }
    // The recommendation routes serve the model `cohort recommend train`
    // saved beside the store; `POST /v1/recommendations/reload` re-reads it.
    let recommender_file = store_dir.join(cohort_recommend::MODEL_FILE);
    let reviews_dir = store_dir.to_path_buf();
    let recommender = if recommender_file.exists() {
        let model = cohort_recommend::Recommender::load(&recommender_file)
            .with_context(|| format!("cannot load the recommendation model {}", recommender_file.display()))?;
        if model.config() != &ctx.config.recommend {
            eprintln!(
                "note: the recommendation model was trained with other [recommend] settings: retrain to apply them"
            );
        }
        Some(Arc::new(model))
    } else {
        eprintln!(
            "note: no recommendation model at {} (the recommendation routes answer 503 until \
             `cohort recommend train` and a reload)",
            recommender_file.display()
        );
        None
    };
    let loyalty_url = super::points::loyalty_url(&ctx, args.loyalty_url)?;
    let engage_url = super::campaign::engage_url(&ctx, None)?;
    let engage_config = ctx.config.engage.clone();
    let engage_dir = store_dir.to_path_buf();
    let shop = ctx.shop;
    let loyalty_config = ctx.config.loyalty.clone();
    let duckdb = Arc::new(ctx.store);
    // The query routes read the same store the collector writes.
    let analytics = Arc::new(
        AnalyticsService::new(duckdb.clone(), shop, ctx.config.kpi.clone())
            .with_segments(ctx.config.segments.clone())
            .with_training(cohort_server::TrainingSettings {
                churn: ctx.config.churn.clone(),
                clusters: ctx.config.clusters.clone(),
                clv: ctx.config.clv,
                replenish: ctx.config.replenish,
                recommend: ctx.config.recommend.clone(),
            }),
    );
    let tag_rules = ctx.config.tags.rules()?;
    let store: Arc<dyn EventStore> = duckdb.clone();
    let engage_scores: Arc<dyn AudienceStore> = duckdb.clone();
    // Tags follow every commit of the collector (docs/audiences.md).
    let audience =
        cohort_server::AudienceService::start(store.clone(), duckdb, tag_rules, shop, Arc::new(SystemClock))?;
    // Time alone changes tags too: recompute daily at [tags] daily_recompute.
    if let Some(at) = ctx.config.tags.daily_recompute_at()? {
        audience.schedule_daily_recompute(at)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start tokio")?;
    runtime.block_on(async move {
        let loyalty = Loyalty::open(&loyalty_url, loyalty_config, shop, Arc::new(SystemClock))
            .await
            .with_context(|| format!("cannot open the loyalty store {loyalty_url}"))?;
        let loyalty = Arc::new(loyalty);
        // Journeys follow every commit; the scheduler delivers due messages
        // and wakes waiting runs ([engage], docs/engage.md).
        let engage = if engage_config.enabled {
            let options = OutboxOptions { sinks: engage_config.sinks(&engage_dir)?, ..OutboxOptions::default() };
            let outbox = Outbox::open(&engage_url, shop, Arc::new(SystemClock), options)
                .await
                .with_context(|| format!("cannot open the engage store {engage_url}"))?;
            let directory = Arc::new(StoreDirectory(store.clone()));
            let issuer = Arc::new(LoyaltyIssuer(loyalty.clone()));
            // The playbooks' coupons must exist for their offers to be issued.
            issuer.ensure_templates(&engage_config.journeys()?).await?;
            let sources = EntrySources { events: store.clone(), scores: engage_scores };
            Some(EngageService::start(outbox, engage_config, directory, issuer, Some(sources))?)
        } else {
            None
        };
        let stop = cohort_server::shutdown_signal();
        let services = Services {
            loyalty: Some(loyalty.clone()),
            analytics: Some(analytics),
            keys_file: Some(keys_file),
            recommender,
            recommender_file: Some(recommender_file),
            audience: Some(audience),
            reviews_dir: Some(reviews_dir),
            engage,
            commit_hooks: Vec::new(),
        };
        let server = Server::start_with(config, shop, store, services, stop).await?;
        // Scripts (and tests) read the bound address from this line.
        println!("listening on {}", server.addr());
        let served = server.wait().await.map_err(anyhow::Error::msg);
        // Every handler is gone: the loyalty writer drains and closes.
        if let Ok(loyalty) = Arc::try_unwrap(loyalty) {
            loyalty.close().await;
        }
        served
    })
}
