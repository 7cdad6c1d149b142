//! Behaviour clusters: K-means on standardised profile features, k chosen
//! by silhouette, each cluster named from what sets it apart.
//!
//! Only buyers are clustered (a profile with at least one order): people
//! without orders have no price level, frequency or discount share to
//! describe. Features (see [`features`]): night and morning activity
//! shares, weekend share, price level (ln of 1 + AOV in yuan), frequency
//! (ln of 1 + lifetime orders), recency (ln of 1 + days since the last
//! order), discount share, platform shares, and the shares of the
//! population's largest categories. Features that are constant (a shop
//! with one platform, no discount data) are dropped. Clusters are numbered
//! by size, largest first, so a model is deterministic for its seed.

pub mod features;
pub mod kmeans;
pub mod naming;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Profile};
use serde::{Deserialize, Serialize};

use features::{category_share, hour_share, log1p, Standardiser, MORNING_HOURS, NIGHT_HOURS};
use kmeans::{kmeans, nearest, silhouette, KMeansParams};

/// File name of the saved cluster model, beside the store.
pub const MODEL_FILE: &str = "clusters.model.json";

/// What can go wrong clustering.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Too few buyers to form the clusters asked for.
    #[error("clustering needs at least {need} buyers with profiles (got {got}); run `cohort compute` first")]
    TooFewProfiles {
        /// Needed.
        need: usize,
        /// Present.
        got: usize,
    },
    /// A setting is outside its range.
    #[error("invalid cluster setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A model file could not be read or written.
    #[error("cluster model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// How to cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// A fixed number of clusters; `None` picks k in `k_min..=k_max` by the
    /// best mean silhouette.
    pub k: Option<usize>,
    /// Smallest k tried.
    pub k_min: usize,
    /// Largest k tried.
    pub k_max: usize,
    /// K-means restarts per k (best inertia wins).
    pub restarts: usize,
    /// Lloyd iterations per restart, at most.
    pub max_iterations: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// How many of the population's largest categories become features.
    pub categories: usize,
    /// Rows the silhouette is computed on (a seeded sample beyond this).
    pub silhouette_sample: usize,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            k: None,
            k_min: 2,
            k_max: 8,
            restarts: 10,
            max_iterations: 100,
            seed: 42,
            categories: 4,
            silhouette_sample: 2000,
        }
    }
}

impl ClusterSettings {
    /// Checks ranges; every problem is reported.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let bad = |field, reason: &str| Err(ClusterError::InvalidSetting { field, reason: reason.into() });
        if self.k.is_some_and(|k| k < 2) {
            return bad("k", "must be at least 2");
        }
        if self.k_min < 2 || self.k_max < self.k_min {
            return bad("k_min", "need 2 <= k_min <= k_max");
        }
        if self.restarts == 0 {
            return bad("restarts", "must be at least 1");
        }
        if self.max_iterations == 0 {
            return bad("max_iterations", "must be at least 1");
        }
        if self.silhouette_sample < 10 {
            return bad("silhouette_sample", "must be at least 10");
        }
        Ok(())
    }
}

/// One feature of a cluster's centre: raw mean and distance from the
/// population mean in standard deviations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentroidValue {
    /// Feature name.
    pub feature: String,
    /// The centre on the feature's own scale (shares 0–1, logs as logs).
    pub value: f64,
    /// Standard deviations from the population mean.
    pub z: f64,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSummary {
    /// Number, 0 = largest.
    pub id: usize,
    /// Generated name ("night owls 22:00–02:00 · discount hunters").
    pub name: String,
    /// Members.
    pub size: usize,
    /// Members / all clustered buyers.
    pub share: f64,
    /// The busiest 4-hour window of the members' activity.
    pub peak_window: String,
    /// The features that name it, most distinctive first.
    pub distinguishing: Vec<CentroidValue>,
    /// Every feature of the centre.
    pub centroid: Vec<CentroidValue>,
}

/// A fitted clustering, saved beside the store and used to label profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterModel {
    /// The profiles' `as_of` instant (latest) when fitted.
    pub fitted_on: Option<DateTime<Utc>>,
    /// Settings used.
    pub settings: ClusterSettings,
    /// Chosen k.
    pub k: usize,
    /// `"silhouette"` or `"fixed"`.
    pub chosen_by: String,
    /// Mean silhouette per k tried.
    pub silhouette_by_k: Vec<(usize, f64)>,
    /// Feature names, in matrix order.
    pub features: Vec<String>,
    /// Standardisation of the training matrix.
    pub standardiser: Standardiser,
    /// Centres in z-units, by cluster id.
    pub centroids: Vec<Vec<f64>>,
    /// Clusters by id.
    pub clusters: Vec<ClusterSummary>,
    /// Total within-cluster sum of squares (z-units).
    pub inertia: f64,
}

/// One person's cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// Who.
    pub person_id: PersonId,
    /// Cluster id.
    pub cluster: usize,
    /// Cluster name.
    pub name: String,
    /// Euclidean distance to the centre, z-units.
    pub distance: f64,
}

const FIXED_FEATURES: [&str; 11] = [
    "night_share",
    "morning_share",
    "weekend_share",
    "price_level",
    "frequency",
    "recency",
    "discount_share",
    "app_share",
    "mini_program_share",
    "web_share",
    "store_share",
];

/// The raw value of one named feature.
fn feature_value(p: &Profile, name: &str) -> Option<f64> {
    let platforms = p.platform_mix;
    let any_platform = platforms.app + platforms.mini_program + platforms.web + platforms.store > 0.0;
    match name {
        "night_share" => hour_share(p, &NIGHT_HOURS),
        "morning_share" => hour_share(p, &MORNING_HOURS),
        "weekend_share" => p.weekend_share,
        "price_level" => p.aov.map(|m| log1p(m.yuan_f64())),
        "frequency" => Some(log1p(f64::from(p.orders.lifetime))),
        "recency" => p.recency_days.map(|d| log1p(d as f64)),
        "discount_share" => p.price_sensitivity,
        "app_share" => any_platform.then_some(platforms.app),
        "mini_program_share" => any_platform.then_some(platforms.mini_program),
        "web_share" => any_platform.then_some(platforms.web),
        "store_share" => any_platform.then_some(platforms.store),
        other => other.strip_prefix("category:").map(|c| category_share(p, c)),
    }
}

/// Whether a profile is clustered (a buyer).
pub fn is_buyer(p: &Profile) -> bool {
    p.orders.lifetime > 0
}

fn raw_rows(profiles: &[&Profile], features: &[String]) -> Vec<Vec<Option<f64>>> {
    profiles.iter().map(|p| features.iter().map(|f| feature_value(p, f)).collect()).collect()
}

/// The population's `n` largest categories by summed share.
fn top_categories(profiles: &[&Profile], n: usize) -> Vec<String> {
    let mut total: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for p in profiles {
        for (c, s) in &p.category_shares {
            *total.entry(c.as_str()).or_default() += s;
        }
    }
    let mut v: Vec<(&str, f64)> = total.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().take(n).map(|(c, _)| c.to_string()).collect()
}

/// The standardised behaviour features of the buyers among `profiles`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Feature names, in column order.
    pub features: Vec<String>,
    /// Standardisation fitted on these rows.
    pub standardiser: Standardiser,
    /// `rows × features` z-scores, row-major.
    pub data: Vec<f64>,
    /// Row count.
    pub rows: usize,
}

/// Builds the clustering matrix: candidate features, constant ones dropped,
/// standardised. Rows follow the buyers' order in `profiles`.
pub fn behaviour_matrix(profiles: &[Profile], settings: &ClusterSettings) -> FeatureMatrix {
    let buyers: Vec<&Profile> = profiles.iter().filter(|p| is_buyer(p)).collect();
    let mut names: Vec<String> = FIXED_FEATURES.iter().map(|s| s.to_string()).collect();
    names.extend(top_categories(&buyers, settings.categories).into_iter().map(|c| format!("category:{c}")));
    let rows = raw_rows(&buyers, &names);
    let keep: Vec<usize> = (0..names.len())
        .filter(|&j| {
            let mut vals = rows.iter().filter_map(|r| r[j]);
            match vals.next() {
                None => false,
                Some(first) => vals.any(|v| (v - first).abs() > 1e-12),
            }
        })
        .collect();
    let features: Vec<String> = keep.iter().map(|&j| names[j].clone()).collect();
    let rows: Vec<Vec<Option<f64>>> = rows.iter().map(|r| keep.iter().map(|&j| r[j]).collect()).collect();
    let standardiser = Standardiser::fit(&rows, features.len());
    let data = standardiser.transform(&rows);
    FeatureMatrix { features, standardiser, data, rows: rows.len() }
}

/// Fits the clustering on the buyers among `profiles`.
pub fn fit_clusters(profiles: &[Profile], settings: &ClusterSettings) -> Result<ClusterModel, ClusterError> {
    settings.validate()?;
    let buyers: Vec<&Profile> = profiles.iter().filter(|p| is_buyer(p)).collect();
    let k_max = settings.k.unwrap_or(settings.k_max);
    let need = (k_max * 5).max(10);
    if buyers.len() < need {
        return Err(ClusterError::TooFewProfiles { need, got: buyers.len() });
    }
    let FeatureMatrix { features, standardiser, data, .. } = behaviour_matrix(profiles, settings);
    let d = features.len();
    if d == 0 {
        return Err(ClusterError::TooFewProfiles { need, got: 0 });
    }

    let params = |k| KMeansParams {
        k,
        restarts: settings.restarts,
        max_iterations: settings.max_iterations,
        tolerance: 1e-4,
        seed: settings.seed,
    };
    let ks: Vec<usize> = match settings.k {
        Some(k) => vec![k],
        None => (settings.k_min..=settings.k_max).collect(),
    };
    let mut best = None;
    let mut silhouette_by_k = Vec::new();
    for &k in &ks {
        let fit = kmeans(&data, d, &params(k));
        let s = silhouette(&data, d, &fit.labels, k, settings.silhouette_sample, settings.seed);
        silhouette_by_k.push((k, s));
        tracing::debug!(k, silhouette = s, inertia = fit.inertia, "k-means fitted");
        if best.as_ref().is_none_or(|(bs, _, _)| s > *bs) {
            best = Some((s, k, fit));
        }
    }
    let (_, k, fit) = best.expect("at least one k");

    // Renumber clusters by size (largest first, ties by old number).
    let mut sizes = vec![0usize; k];
    fit.labels.iter().for_each(|&l| sizes[l] += 1);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let centroids: Vec<Vec<f64>> = order.iter().map(|&c| fit.centroids[c * d..(c + 1) * d].to_vec()).collect();
    let mut new_id = vec![0; k];
    order.iter().enumerate().for_each(|(new, &old)| new_id[old] = new);
    let mut hours = vec![[0.0f64; 24]; k];
    for (p, &l) in buyers.iter().zip(&fit.labels) {
        let total: u32 = p.active_hours.iter().sum();
        if total > 0 {
            for (h, n) in p.active_hours.iter().enumerate() {
                hours[new_id[l]][h] += f64::from(*n) / f64::from(total);
            }
        }
    }
    let windows: Vec<String> = hours.iter().map(naming::busiest_window).collect();
    let names = naming::name_clusters(&features, &centroids, &windows);
    let value = |j: usize, z: f64| CentroidValue { feature: features[j].clone(), value: standardiser.raw(j, z), z };
    let clusters = (0..k)
        .map(|c| ClusterSummary {
            id: c,
            name: names[c].clone(),
            size: sizes[order[c]],
            share: sizes[order[c]] as f64 / buyers.len() as f64,
            peak_window: windows[c].clone(),
            distinguishing: naming::descriptors(&features, &centroids[c])
                .into_iter()
                .map(|(j, z)| value(j, z))
                .collect(),
            centroid: centroids[c].iter().enumerate().map(|(j, &z)| value(j, z)).collect(),
        })
        .collect();
    Ok(ClusterModel {
        fitted_on: buyers.iter().map(|p| p.as_of).max(),
        settings: settings.clone(),
        k,
        chosen_by: if settings.k.is_some() { "fixed" } else { "silhouette" }.into(),
        silhouette_by_k,
        features,
        standardiser,
        centroids,
        clusters,
        inertia: fit.inertia,
    })
}

impl ClusterModel {
    /// The cluster of one profile; `None` for a non-buyer.
    pub fn assign(&self, p: &Profile) -> Option<Assignment> {
        if !is_buyer(p) {
            return None;
        }
        let raw: Vec<Option<f64>> = self.features.iter().map(|f| feature_value(p, f)).collect();
        let mut z = Vec::with_capacity(raw.len());
        self.standardiser.transform_into(&raw, &mut z);
        let flat: Vec<f64> = self.centroids.concat();
        let (c, d2) = nearest(&z, &flat, z.len());
        Some(Assignment {
            person_id: p.person_id.clone(),
            cluster: c,
            name: self.clusters[c].name.clone(),
            distance: d2.sqrt(),
        })
    }

    /// Clusters of every buyer among `profiles`.
    pub fn assign_all(&self, profiles: &[Profile]) -> Vec<Assignment> {
        profiles.iter().filter_map(|p| self.assign(p)).collect()
    }

    /// Writes the model as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ClusterError> {
        let err = |reason: String| ClusterError::ModelFile { path: path.to_path_buf(), reason };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| err(e.to_string()))
    }

    /// Reads a model written by [`ClusterModel::save`].
    pub fn load(path: &Path) -> Result<Self, ClusterError> {
        let err = |reason: String| ClusterError::ModelFile { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }
}
