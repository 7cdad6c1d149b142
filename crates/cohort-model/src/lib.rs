//! Cohort's domain model, shared by every crate on the data path.
//!
//! Everything that crosses a crate boundary is typed here: ids are newtypes so a
//! product id can never be passed where a person id is expected, money is
//! integer fen ([`Money`]) so sums are exact, and instants are UTC while
//! business days and hours are computed in the shop's explicit time zone
//! ([`ShopTime`]). Event names follow the Segment E-commerce spec
//! ([`EventName`]), plus Cohort's own check-in and content interactions.

mod batch;
mod error;
mod event;
mod ids;
mod money;
mod order;
mod platform;
mod product;
mod profile;
mod segment;
mod time;
mod user;

pub use batch::Batch;
pub use error::ModelError;
pub use event::{Event, EventName};
pub use ids::{AnonymousId, EventId, OrderId, PersonId, ProductId, UserId};
pub use money::Money;
pub use order::{Order, OrderKind, OrderLine};
pub use platform::Platform;
pub use product::Product;
pub use profile::{PlatformMix, Profile, Windowed};
pub use segment::{BehaviourType, LifecycleStage, RfmScore, RfmSegment, ValueTier};
pub use time::{Clock, FixedClock, ShopTime, SystemClock, DEFAULT_TIME_ZONE};
pub use user::User;
