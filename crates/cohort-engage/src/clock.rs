//! A clock tests can move: the outbox, quiet hours, backoff and campaigns all
//! read "now" from an injected [`Clock`], so a test sets the time, advances
//! it past a backoff or a quiet window, and gets the same result every run.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
pub use cohort_model::{Clock, FixedClock, SystemClock};

/// A clock that stays where it is set until it is moved.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 2, 0, 0).unwrap();
        let clock = ManualClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), t0 + Duration::seconds(90));
        clock.set(t0);
        assert_eq!(clock.now(), t0);
    }
}
