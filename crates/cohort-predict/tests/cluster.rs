//! Behaviour clusters on generated buyers with three planted groups.

use chrono::{TimeZone, Utc};
use cohort_model::{BehaviourType, LifecycleStage, Money, PersonId, PlatformMix, Profile, ValueTier, Windowed};
use cohort_predict::cluster::{fit_clusters, ClusterModel, ClusterSettings};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A buyer with the given hours (activity count per hour), weekend share,
/// AOV (yuan), lifetime orders, discount share and one category.
fn buyer(id: usize, hours: &[(usize, u32)], weekend: f64, aov: i64, orders: u32, discount: f64, cat: &str) -> Profile {
    let mut active_hours = [0u32; 24];
    for &(h, n) in hours {
        active_hours[h] += n;
    }
    let as_of = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    Profile {
        person_id: PersonId::new(format!("u{id:04}")).unwrap(),
        as_of,
        registered_at: None,
        registration_age_days: None,
        first_order_at: None,
        last_order_at: None,
        last_active_at: Some(as_of),
        recency_days: Some(10),
        inactive_days: 10,
        visit_days_30d: 3,
        orders: Windowed { d30: 0, d90: 0, d180: 0, lifetime: orders },
        monetary: Windowed::default(),
        value_orders: orders,
        value_monetary: Money::ZERO,
        aov: Some(Money::from_yuan(aov)),
        refunds: 0,
        refunded: Money::ZERO,
        category_shares: vec![(cat.to_string(), 1.0)],
        top_category: Some(cat.to_string()),
        new_product_trial_rate: None,
        price_sensitivity: Some(discount),
        platform_mix: PlatformMix { app: 1.0, ..Default::default() },
        active_hours,
        peak_hour: None,
        weekend_share: Some(weekend),
        reviews: 0,
        shares: 0,
        searches_90d: 0,
        views_90d: 0,
        carts_90d: 0,
        shares_90d: 0,
        comparison_days_90d: 0,
        value_tier: ValueTier::General,
        rfm: None,
        rfm_segment: None,
        lifecycle: LifecycleStage::Active,
        behaviour: BehaviourType::Casual,
    }
}

/// 3 × 200 buyers: night-time discount hunters buying snacks; weekend
/// morning big spenders buying furniture; weekday afternoon regulars
/// buying beauty. Each with noise.
fn planted() -> (Vec<Profile>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut profiles = Vec::new();
    let mut truth = Vec::new();
    for i in 0..600 {
        let group = i % 3;
        let j =
            |rng: &mut ChaCha8Rng, base: f64, spread: f64| (base + rng.random_range(-spread..spread)).clamp(0.0, 1.0);
        let p = match group {
            0 => buyer(
                i,
                &[(22, rng.random_range(3..8)), (23, rng.random_range(3..8)), (0, 4), (1, 2), (14, 1)],
                j(&mut rng, 0.3, 0.1),
                rng.random_range(30..60),
                rng.random_range(2..5),
                j(&mut rng, 0.8, 0.15),
                "snacks",
            ),
            1 => buyer(
                i,
                &[(8, rng.random_range(3..8)), (9, 5), (10, 3), (20, 1)],
                j(&mut rng, 0.85, 0.1),
                rng.random_range(600..900),
                rng.random_range(2..5),
                j(&mut rng, 0.1, 0.1),
                "furniture",
            ),
            _ => buyer(
                i,
                &[(14, rng.random_range(3..8)), (15, 5), (16, 3), (11, 1)],
                j(&mut rng, 0.2, 0.1),
                rng.random_range(100..200),
                rng.random_range(15..30),
                j(&mut rng, 0.2, 0.1),
                "beauty",
            ),
        };
        profiles.push(p);
        truth.push(group);
    }
    (profiles, truth)
}

#[test]
fn kmeans_recovers_planted_groups_and_names_them_deterministically() {
    let (profiles, truth) = planted();
    let settings = ClusterSettings::default();
    let model = fit_clusters(&profiles, &settings).unwrap();
    println!("silhouette by k: {:?}", model.silhouette_by_k);
    for c in &model.clusters {
        println!("{} {:>4} {:.3} {}", c.id, c.size, c.share, c.name);
    }
    assert_eq!(model.k, 3, "silhouette picks the planted k");
    // Every planted group lands in exactly one cluster (purity 1).
    let assigned = model.assign_all(&profiles);
    for g in 0..3 {
        let clusters: std::collections::BTreeSet<usize> =
            assigned.iter().zip(&truth).filter(|(_, &t)| t == g).map(|(a, _)| a.cluster).collect();
        assert_eq!(clusters.len(), 1, "group {g} split over {clusters:?}");
    }
    assert!(model.clusters.iter().all(|c| c.size == 200));
    let names: Vec<&str> = model.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, EXPECTED_NAMES);

    // Same seed, same model; the saved file reloads to the same model.
    let again = fit_clusters(&profiles, &settings).unwrap();
    assert_eq!(again, model);
    let dir = tempfile_dir();
    let path = dir.join("clusters.model.json");
    model.save(&path).unwrap();
    // (JSON may move a float by its last bit: compare what the model does.)
    let loaded = ClusterModel::load(&path).unwrap();
    assert_eq!(loaded.k, model.k);
    assert_eq!(loaded.features, model.features);
    let loaded_names: Vec<&str> = loaded.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(loaded_names, EXPECTED_NAMES);
    let reassigned = loaded.assign_all(&profiles);
    assert!(reassigned.iter().zip(&assigned).all(|(a, b)| a.cluster == b.cluster));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Hand-checked: each group's one category is its largest deviation
/// (a share of 1 against a population mean of 1/3), then its hours.
const EXPECTED_NAMES: [&str; 3] = [
    "furniture fans · early birds 07:00–11:00",
    "beauty fans · loyal regulars",
    "snacks fans · night owls 22:00–02:00",
];

#[test]
fn too_few_buyers_is_a_clear_error() {
    let (profiles, _) = planted();
    let err = fit_clusters(&profiles[..12], &ClusterSettings::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clustering needs at least 40 buyers with profiles (got 12); run `cohort compute` first"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cohort-predict-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
