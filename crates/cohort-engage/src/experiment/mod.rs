//! Experiments: who sees what, and whether it worked.
//!
//! Assignment is a pure function of (salt, unit id): SHA-256 of
//! `"{salt}:{unit}"`, first 8 bytes as an integer, modulo 10 000 buckets.
//! So it needs no storage, gives the same answer on every machine and every
//! run, and is independent between experiments with different salts.
//!
//! - **Weights**: arms take consecutive bucket ranges in proportion to their
//!   weights.
//! - **Namespaces**: experiments that must not overlap (two tests of the
//!   same banner) share a namespace; the namespace hashes the unit with its
//!   own salt into 10 000 slots and each experiment owns a disjoint slot
//!   range, so a unit is in at most one of them.
//! - **Global holdout**: a fixed share of units, hashed with the holdout's
//!   salt, receives no campaign at all: the baseline for the total effect
//!   of marketing.
//! - **Per-campaign control**: an arm named as the control (often 10%).
//! - **Sticky**: [`sticky::assign`] stores the first assignment, so a later
//!   change of weights never moves someone who was already exposed.
//!
//! The statistics that judge an experiment are in [`stats`], [`bayes`] and
//! [`sequential`].

pub mod bayes;
pub mod readout;
pub mod sequential;
pub mod stats;
pub mod sticky;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EngageError;

/// Buckets per hash space: weights and shares have a resolution of 0.01%.
pub const BUCKETS: u64 = 10_000;

/// The bucket of `unit` under `salt`, in `0..BUCKETS`.
pub fn bucket(salt: &str, unit: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(unit.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Name (`control`, `coupon_10`, …).
    pub name: String,
    /// Relative weight (> 0).
    pub weight: u32,
}

/// A slot range in a namespace: the experiment sees only units whose
/// namespace slot is in `start..end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSlot {
    /// The namespace (its name is its salt).
    pub namespace: String,
    /// First slot (inclusive), `0..=10000`.
    pub start: u64,
    /// Last slot (exclusive).
    pub end: u64,
}

/// An experiment definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Id (also the default salt).
    pub id: String,
    /// Hash salt; change it to reshuffle.
    pub salt: String,
    /// Arms with weights.
    pub arms: Vec<Arm>,
    /// The arm that gets nothing (the comparison baseline).
    pub control: String,
    /// Mutually exclusive placement, if any.
    #[serde(default)]
    pub namespace: Option<NamespaceSlot>,
}

/// The global holdout: `share_bp` basis points of all units get no
/// campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    /// Salt (keep it fixed for the holdout's life).
    pub salt: String,
    /// Share held out, in basis points (500 = 5%).
    pub share_bp: u64,
}

impl Holdout {
    /// Whether `unit` is held out.
    pub fn contains(&self, unit: &str) -> bool {
        bucket(&self.salt, unit) < self.share_bp
    }
}

/// Where a unit lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "arm", rename_all = "snake_case")]
pub enum Assignment {
    /// In the global holdout: no treatment, not analysed in this experiment.
    Holdout,
    /// Outside this experiment's namespace slots (in another experiment).
    NotEligible,
    /// In an arm.
    Arm(String),
}

impl Experiment {
    /// An experiment with `arms` (name, weight), the first arm the control,
    /// salted with its id.
    pub fn new(id: &str, arms: &[(&str, u32)]) -> Result<Experiment, EngageError> {
        let exp = Experiment {
            id: id.to_string(),
            salt: id.to_string(),
            arms: arms.iter().map(|(n, w)| Arm { name: n.to_string(), weight: *w }).collect(),
            control: arms.first().map(|a| a.0.to_string()).unwrap_or_default(),
            namespace: None,
        };
        exp.validate()?;
        Ok(exp)
    }

    /// Places the experiment in a namespace slot range.
    pub fn in_namespace(mut self, namespace: &str, start: u64, end: u64) -> Result<Experiment, EngageError> {
        self.namespace = Some(NamespaceSlot { namespace: namespace.to_string(), start, end });
        self.validate()?;
        Ok(self)
    }

    /// Checks arms, weights, control and namespace range.
    pub fn validate(&self) -> Result<(), EngageError> {
        if self.arms.len() < 2 {
            return Err(EngageError::invalid("experiment arms", &self.id, "need at least two arms"));
        }
        if let Some(a) = self.arms.iter().find(|a| a.weight == 0) {
            return Err(EngageError::invalid("arm weight", &a.name, "must be positive"));
        }
        let total: u64 = self.arms.iter().map(|a| u64::from(a.weight)).sum();
        if total > BUCKETS {
            return Err(EngageError::invalid("arm weights", &self.id, format!("sum {total} exceeds {BUCKETS}")));
        }
        for (i, a) in self.arms.iter().enumerate() {
            if self.arms[..i].iter().any(|b| b.name == a.name) {
                return Err(EngageError::invalid("arm name", &a.name, "is used twice"));
            }
        }
        if !self.arms.iter().any(|a| a.name == self.control) {
            return Err(EngageError::invalid("control arm", &self.control, "is not one of the arms"));
        }
        if let Some(ns) = &self.namespace {
            if ns.start >= ns.end || ns.end > BUCKETS {
                return Err(EngageError::invalid(
                    "namespace slots",
                    format!("{}..{}", ns.start, ns.end),
                    format!("need start < end <= {BUCKETS}"),
                ));
            }
        }
        Ok(())
    }

    /// The arm of `unit`, ignoring any holdout.
    pub fn arm_of(&self, unit: &str) -> Option<&str> {
        if let Some(ns) = &self.namespace {
            let slot = bucket(&ns.namespace, unit);
            if slot < ns.start || slot >= ns.end {
                return None;
            }
        }
        let total: u64 = self.arms.iter().map(|a| u64::from(a.weight)).sum();
        let b = bucket(&self.salt, unit);
        // Scale the bucket to the total weight: arm i owns
        // [cum_i, cum_{i+1}) of `total`.
        let point = b * total / BUCKETS;
        let mut cum = 0u64;
        for arm in &self.arms {
            cum += u64::from(arm.weight);
            if point < cum {
                return Some(&arm.name);
            }
        }
        self.arms.last().map(|a| a.name.as_str())
    }

    /// The assignment of `unit`, holdout first.
    pub fn assign(&self, holdout: Option<&Holdout>, unit: &str) -> Assignment {
        if holdout.is_some_and(|h| h.contains(unit)) {
            return Assignment::Holdout;
        }
        match self.arm_of(unit) {
            Some(arm) => Assignment::Arm(arm.to_string()),
            None => Assignment::NotEligible,
        }
    }

    /// The expected share of each arm among eligible units (for SRM checks).
    pub fn expected_shares(&self) -> Vec<f64> {
        let total: f64 = self.arms.iter().map(|a| f64::from(a.weight)).sum();
        self.arms.iter().map(|a| f64::from(a.weight) / total).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_sha256_of_salt_and_unit() {
        // Reference: python3 -c "import hashlib;
        //   print(int.from_bytes(hashlib.sha256(b'spring:u42').digest()[:8], 'big') % 10000)"
        assert_eq!(bucket("spring", "u42"), BUCKET_SPRING_U42);
        assert_ne!(bucket("spring", "u42"), bucket("autumn", "u42"));
    }

    const BUCKET_SPRING_U42: u64 = 8465;

    #[test]
    fn weights_split_units_in_proportion() {
        let exp = Experiment::new("wake_up_2024_05", &[("control", 1), ("coupon_10", 2), ("coupon_20", 1)]).unwrap();
        let mut counts = [0u32; 3];
        for i in 0..40_000 {
            let arm = exp.arm_of(&format!("p{i}")).unwrap();
            counts[exp.arms.iter().position(|a| a.name == arm).unwrap()] += 1;
        }
        // Expected 10 000 / 20 000 / 10 000; a binomial sd is about 87-100.
        assert!((counts[0] as i32 - 10_000).abs() < 400, "{counts:?}");
        assert!((counts[1] as i32 - 20_000).abs() < 400, "{counts:?}");
        assert!((counts[2] as i32 - 10_000).abs() < 400, "{counts:?}");
        // Deterministic: the same unit always lands in the same arm.
        assert_eq!(exp.arm_of("p7"), exp.arm_of("p7"));
    }

    #[test]
    fn namespaces_make_experiments_mutually_exclusive() {
        let a = Experiment::new("banner_a", &[("control", 1), ("red", 1)])
            .unwrap()
            .in_namespace("home_banner", 0, 5000)
            .unwrap();
        let b = Experiment::new("banner_b", &[("control", 1), ("big", 1)])
            .unwrap()
            .in_namespace("home_banner", 5000, 10_000)
            .unwrap();
        let (mut in_a, mut in_b) = (0, 0);
        for i in 0..10_000 {
            let u = format!("p{i}");
            let (x, y) = (a.arm_of(&u).is_some(), b.arm_of(&u).is_some());
            assert!(x != y, "unit {u} must be in exactly one of the two");
            in_a += u32::from(x);
            in_b += u32::from(y);
        }
        assert!((in_a as i32 - 5000).abs() < 250 && (in_b as i32 - 5000).abs() < 250, "{in_a} {in_b}");
        assert!(Experiment::new("x", &[("c", 1), ("t", 1)]).unwrap().in_namespace("n", 10, 5).is_err());
    }

    #[test]
    fn holdout_comes_first_and_is_independent_of_the_experiment() {
        let holdout = Holdout { salt: "global-2024".into(), share_bp: 500 };
        let exp = Experiment::new("recall", &[("control", 1), ("offer", 9)]).unwrap();
        let mut held = 0;
        let mut control = 0;
        for i in 0..20_000 {
            match exp.assign(Some(&holdout), &format!("p{i}")) {
                Assignment::Holdout => held += 1,
                Assignment::Arm(a) if a == "control" => control += 1,
                _ => {}
            }
        }
        // 5% held out (1 000 ± 31), and 10% of the rest in control (1 900 ± 41).
        assert!((held - 1000i32).abs() < 120, "{held}");
        assert!((control - 1900i32).abs() < 160, "{control}");
    }

    #[test]
    fn invalid_experiments_are_refused_with_the_reason() {
        assert!(Experiment::new("x", &[("only", 1)]).unwrap_err().to_string().contains("two arms"));
        assert!(Experiment::new("x", &[("a", 1), ("a", 1)]).unwrap_err().to_string().contains("twice"));
        assert!(Experiment::new("x", &[("a", 0), ("b", 1)]).unwrap_err().to_string().contains("positive"));
    }
}
