//! The collection service: a Segment-compatible HTTP Tracking API in front
//! of the event store.
//!
//! Any Segment or RudderStack SDK can send to it unchanged: `POST
//! /v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias` and
//! `/v1/batch`, JSON or gzip, with the write key as the Basic-auth user
//! name. The engine does the work: [`cohort_collect::segment`] validates
//! and maps messages, [`cohort_collect::identity`] stitches anonymous and
//! user ids into persons, and the [`cohort_store::EventStore`] commits. This
//! crate only adds HTTP, the group-commit writer ([`writer`]) and metrics.
//!
//! Keys have a role ([`keys::Role`]): write keys only send events, admin
//! keys also open the admin routes (403 `wrong_role` for a write key).
//! They come from the key file of `cohort keys` and from the config.
//!
//! Behind admin keys it also serves the shop's backend: loyalty and coupon
//! routes ([`cohort_loyalty`]) and analytics queries (`/v1/query/…`,
//! [`cohort_analytics`] on the DuckDB store, [`AnalyticsService`]) and
//! recommendations (`/v1/recommendations/…`, `/v1/items/{item}/similar`,
//! a trained [`cohort_recommend::Recommender`]).
//!
//! A 200 means committed: each request waits for the transaction holding
//! its messages. See `docs/collection.md`.

/// The value of a handler's gate or parse (`Ok`), or its boxed answer
/// (`Err(Box<Response>)`) returned at once.
macro_rules! gate {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
}

mod analytics;
mod audience;
mod auth;
mod basket;
mod config;
mod console;
mod engage;
mod error;
mod ingest;
mod insight;
pub mod keys;
mod lifetime;
mod loyalty;
mod metrics;
mod moves;
mod openapi;
mod predict;
mod recommend;
mod reviews;
mod routes;
mod train;
mod writer;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cohort_collect::segment::SegmentDecoder;
use cohort_model::ShopTime;
use cohort_store::{EventStore, StoreError};

pub use analytics::AnalyticsService;
pub use audience::AudienceService;
pub use auth::basic as basic_auth;
pub use config::ServerConfig;
pub use engage::{EngageService, LoyaltyIssuer, StoreDirectory};
pub use error::{ApiError, ERRORS_DOC};
pub use ingest::{Accepted, RejectedMessage};
pub use metrics::Metrics;
pub use openapi::openapi;
pub use routes::{Route, ROUTES};
pub use train::TrainingSettings;
pub use writer::{CommitHook, Committed};

/// Shared by every request.
#[derive(Clone)]
pub(crate) struct AppState {
    config: Arc<ServerConfig>,
    writer: writer::WriterHandle,
    decoders: Arc<DecoderPool>,
    metrics: Metrics,
    /// The loyalty service behind the admin loyalty routes, when configured.
    loyalty: Option<Arc<cohort_loyalty::Loyalty>>,
    /// The analytics engine behind the `/v1/query/…` routes, when configured.
    analytics: Option<Arc<AnalyticsService>>,
    /// Every accepted key and its role.
    keys: Arc<keys::KeyRing>,
    /// The recommendation model behind `/v1/recommendations/…`.
    recommend: Arc<recommend::RecommendService>,
    /// Profiles, tags and audiences (`/v1/profiles/…`, `/v1/tags…`, `/v1/audiences…`).
    audience: Option<Arc<AudienceService>>,
    /// The sentiment model and topic report behind `/v1/reviews/…`.
    reviews: Arc<reviews::ReviewService>,
    /// Campaigns, journeys and experiments (`/v1/campaigns…`, `/v1/journeys…`).
    engage: Option<Arc<EngageService>>,
}

/// The optional services behind the admin routes; without one, its routes
/// answer 503 (`loyalty_disabled`, `analytics_disabled`).
#[derive(Default, Clone)]
pub struct Services {
    /// Loyalty and coupons.
    pub loyalty: Option<Arc<cohort_loyalty::Loyalty>>,
    /// Funnels, retention, the KPI board and paths.
    pub analytics: Option<Arc<AnalyticsService>>,
    /// The key file (`keys.json`, see [`keys`]) accepted on top of the
    /// configured `write_keys` and `admin_keys`; re-read when it changes.
    pub keys_file: Option<std::path::PathBuf>,
    /// The trained recommendation model (`recommendations_disabled`
    /// without one).
    pub recommender: Option<Arc<cohort_recommend::Recommender>>,
    /// The model file `POST /v1/recommendations/reload` re-reads
    /// (`recommend.model.json` beside the store).
    pub recommender_file: Option<std::path::PathBuf>,
    /// The tag engine and audience store behind the profile, tag and
    /// audience routes (`audiences_disabled` without one); the writer hands
    /// it the persons of every commit.
    pub audience: Option<Arc<AudienceService>>,
    /// Where `sentiment.model.json.gz` and `sentiment.topics.json` live
    /// (the store's directory); `sentiment_disabled` without one.
    pub reviews_dir: Option<std::path::PathBuf>,
    /// Campaigns, journeys and experiments (`engage_disabled` without);
    /// the writer hands its journeys every committed event.
    pub engage: Option<Arc<EngageService>>,
    /// More listeners on the collector's commits (journeys, live
    /// recommendation refresh), called after the tag engine's.
    pub commit_hooks: Vec<CommitHook>,
}

/// Decoders are stateful (reused buffers, the field mapping): one per
/// concurrent request, reused.
pub(crate) struct DecoderPool {
    idle: Mutex<Vec<SegmentDecoder>>,
    config: Arc<ServerConfig>,
    shop: ShopTime,
}

impl DecoderPool {
    fn get(&self) -> SegmentDecoder {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        idle.unwrap_or_else(|| SegmentDecoder::new(self.config.limits(), self.shop))
    }

    fn put(&self, decoder: SegmentDecoder) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(decoder);
    }
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// Address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The store could not be read (identity links).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port), starts the writer
    /// and serves until [`Server::shutdown`] or `stop` resolves.
    pub async fn start(
        config: ServerConfig,
        shop: ShopTime,
        store: Arc<dyn EventStore>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Server, StartError> {
        Self::start_with_loyalty(config, shop, store, None, stop).await
    }

    /// [`Server::start`], also serving the loyalty routes from `loyalty`
    /// (without it they answer 503 `loyalty_disabled`).
    pub async fn start_with_loyalty(
        config: ServerConfig,
        shop: ShopTime,
        store: Arc<dyn EventStore>,
        loyalty: Option<Arc<cohort_loyalty::Loyalty>>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Server, StartError> {
        Self::start_with(config, shop, store, Services { loyalty, ..Services::default() }, stop).await
    }

    /// [`Server::start`], also serving the admin routes of `services`.
    pub async fn start_with(
        config: ServerConfig,
        shop: ShopTime,
        store: Arc<dyn EventStore>,
        services: Services,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Server, StartError> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| StartError::Bind { addr: config.listen.clone(), reason: e.to_string() })?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind { addr: config.listen.clone(), reason: e.to_string() })?;
        let metrics = Metrics::new();
        let (writer, thread) = writer::start(
            store,
            writer::WriterConfig {
                capacity: config.queue_messages.max(1),
                linger: Duration::from_millis(config.commit_linger_ms),
                max_messages: config.commit_max_messages.max(1),
                dedupe_window: chrono::Duration::seconds(config.dedupe_window_secs.min(i64::MAX as u64) as i64),
                clock: Arc::new(cohort_model::SystemClock),
                on_commit: services
                    .audience
                    .iter()
                    .map(audience::commit_hook)
                    .chain(services.engage.iter().map(EngageService::commit_hook))
                    .chain(services.commit_hooks.clone())
                    .collect(),
            },
            metrics.clone(),
        )?;
        let config = Arc::new(config);
        let decoders = Arc::new(DecoderPool { idle: Mutex::new(Vec::new()), config: config.clone(), shop });
        let Services {
            loyalty,
            analytics,
            keys_file,
            recommender,
            recommender_file,
            reviews_dir,
            audience,
            engage,
            ..
        } = services;
        let keys = Arc::new(keys::KeyRing::new(keys_file, &config.write_keys, &config.admin_keys));
        let recommend = Arc::new(recommend::RecommendService::new(recommender, recommender_file));
        let reviews = Arc::new(reviews::ReviewService::new(reviews_dir));
        let state = AppState {
            config,
            writer,
            decoders,
            metrics,
            loyalty,
            analytics,
            keys,
            recommend,
            reviews,
            audience,
            engage,
        };
        let app = routes::router(state);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async move {
                tokio::select! {
                    _ = rx => {}
                    _ = stop => {}
                }
                tracing::info!("shutting down: finishing in-flight requests");
            };
            let served = axum::serve(listener, app).with_graceful_shutdown(signal).await;
            // The router (and with it every writer handle) is dropped: the
            // writer commits what is queued and stops.
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            served.map_err(|e| e.to_string())?;
            match joined {
                Ok(Ok(())) => Ok(()),
                _ => Err("the writer thread panicked".to_string()),
            }
        });
        tracing::info!(%addr, "collecting");
        Ok(Server { addr, shutdown: Some(tx), task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes in-flight requests, commits everything
    /// queued and returns.
    pub async fn shutdown(mut self) -> Result<(), String> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after the `stop` future resolves).
    pub async fn wait(self) -> Result<(), String> {
        self.task.await.map_err(|e| e.to_string())?
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
