//! The 360° profile: one row per person, recomputed by `cohort compute`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{BehaviourType, LifecycleStage, Money, PersonId, Platform, RfmScore, RfmSegment, ValueTier};

/// A quantity over the standard look-back windows ending at the profile's
/// `as_of` instant. "Within N days" means at most N shop-local calendar days
/// before `as_of` ([`crate::ShopTime::days_between`] ≤ N), the same reading
/// every segment threshold uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windowed<T> {
    /// Last 30 days.
    pub d30: T,
    /// Last 90 days.
    pub d90: T,
    /// Last 180 days.
    pub d180: T,
    /// All history up to `as_of`.
    pub lifetime: T,
}

/// Share of events per platform (each in 0..=1, summing to 1 when the person
/// has any platform-tagged event).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PlatformMix {
    /// App share.
    pub app: f64,
    /// Mini-program share.
    pub mini_program: f64,
    /// Web share.
    pub web: f64,
    /// Store share.
    pub store: f64,
}

impl PlatformMix {
    /// The share of one platform.
    pub fn share(&self, p: Platform) -> f64 {
        match p {
            Platform::App => self.app,
            Platform::MiniProgram => self.mini_program,
            Platform::Web => self.web,
            Platform::Store => self.store,
        }
    }
}

/// Features and segments of one person at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Who.
    pub person_id: PersonId,
    /// The instant the profile describes.
    pub as_of: DateTime<Utc>,
    /// Registration instant (from user attributes, else the first event).
    pub registered_at: Option<DateTime<Utc>>,
    /// Shop-local days since registration.
    pub registration_age_days: Option<i64>,
    /// First purchase.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Last purchase.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Last activity of any kind (event or order).
    pub last_active_at: Option<DateTime<Utc>>,
    /// Shop-local days since the last purchase (R of RFM).
    pub recency_days: Option<i64>,
    /// Shop-local days since the last activity, or since registration when
    /// the person was never active; drives the lifecycle stage.
    pub inactive_days: i64,
    /// Distinct shop-local days with activity in the last 30 days.
    pub visit_days_30d: u32,
    /// Purchases per window.
    pub orders: Windowed<u32>,
    /// Amount paid per window, refunds not subtracted.
    pub monetary: Windowed<Money>,
    /// Purchases within the value window (`[segments.value] window_days`,
    /// default 365 days): the F of value tiers and quantile RFM.
    pub value_orders: u32,
    /// Amount paid within the value window, refunds not subtracted: the M of
    /// value tiers and quantile RFM.
    pub value_monetary: Money,
    /// Lifetime average order value.
    pub aov: Option<Money>,
    /// Refunds, lifetime.
    pub refunds: u32,
    /// Amount refunded, lifetime.
    pub refunded: Money,
    /// Category shares of purchased amount (or of product views for people
    /// who never bought), largest first.
    pub category_shares: Vec<(String, f64)>,
    /// The largest category share.
    pub top_category: Option<String>,
    /// Share of purchased products bought within 30 days of their launch.
    pub new_product_trial_rate: Option<f64>,
    /// Share of orders with a discount or coupon.
    pub price_sensitivity: Option<f64>,
    /// Share of events per platform.
    pub platform_mix: PlatformMix,
    /// Activity count per shop-local hour of day.
    pub active_hours: [u32; 24],
    /// The busiest shop-local hour, if any activity.
    pub peak_hour: Option<u8>,
    /// Share of activity on Saturday / Sunday, shop time.
    pub weekend_share: Option<f64>,
    /// Product reviews written, lifetime.
    pub reviews: u32,
    /// Products shared, lifetime.
    pub shares: u32,
    /// Searches in the last 90 days.
    pub searches_90d: u32,
    /// Product detail views in the last 90 days.
    pub views_90d: u32,
    /// Add-to-cart events in the last 90 days.
    pub carts_90d: u32,
    /// Shares in the last 90 days.
    pub shares_90d: u32,
    /// Days in the last 90 with ≥ 3 distinct products of one category viewed.
    pub comparison_days_90d: u32,
    /// Value tier.
    pub value_tier: ValueTier,
    /// Quantile RFM scores (buyers in the value window only).
    pub rfm: Option<RfmScore>,
    /// Classic RFM segment from `rfm`.
    pub rfm_segment: Option<RfmSegment>,
    /// Lifecycle stage.
    pub lifecycle: LifecycleStage,
    /// Behaviour type.
    pub behaviour: BehaviourType,
}
