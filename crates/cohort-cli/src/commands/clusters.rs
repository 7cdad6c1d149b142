//! `cohort clusters`: behaviour clusters of the buyers' profiles.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;
use cohort_duckdb::ScoreRow;
use cohort_predict::cluster::{fit_clusters, ClusterModel, MODEL_FILE};
use cohort_store::EventStore;
use serde_json::json;

use super::Context;
use crate::output::{percent, table, thousands};

/// Score-table model name of the cluster assignments.
pub const SCORE_MODEL: &str = "cluster";

/// Arguments of `cohort clusters`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A fixed number of clusters (refits); default: the saved model, or k
    /// chosen by silhouette in `[clusters] k_min..=k_max`.
    #[arg(long)]
    k: Option<usize>,
    /// Refit even when a saved model exists.
    #[arg(long)]
    refit: bool,
    /// Print the model as JSON.
    #[arg(long)]
    json: bool,
}

/// The model file: beside the store's database.
pub fn model_path(store_dir: &Path) -> PathBuf {
    store_dir.join(MODEL_FILE)
}

fn store_dir(ctx: &Context) -> anyhow::Result<PathBuf> {
    let db = ctx.store.path().context("the store is in memory: no place for a model file")?;
    Ok(db.parent().unwrap_or(Path::new(".")).to_path_buf())
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let path = model_path(&store_dir(ctx)?);
    let mut profiles = Vec::new();
    ctx.store.scan_profiles(&mut |p| {
        profiles.push(p);
        Ok(())
    })?;
    let model = if args.refit || args.k.is_some() || !path.exists() {
        let mut settings = ctx.config.clusters.clone();
        if let Some(k) = args.k {
            settings.k = Some(k);
        }
        let model = fit_clusters(&profiles, &settings)?;
        model.save(&path)?;
        model
    } else {
        ClusterModel::load(&path)?
    };
    let assigned = model.assign_all(&profiles);
    let rows: Vec<ScoreRow> = assigned
        .iter()
        .map(|a| ScoreRow {
            person_id: a.person_id.clone(),
            score: a.cluster as f64,
            label: Some(a.name.clone()),
            detail: json!({ "cluster": a.cluster, "distance": (a.distance * 1000.0).round() / 1000.0 }),
        })
        .collect();
    ctx.store.replace_scores(SCORE_MODEL, Utc::now(), &rows)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&model)?);
        return Ok(());
    }
    println!(
        "{} clusters of {} buyers (k by {}; silhouette {}), model {}",
        model.k,
        thousands(assigned.len() as u64),
        model.chosen_by,
        model.silhouette_by_k.iter().map(|(k, s)| format!("k={k}: {s:.3}")).collect::<Vec<_>>().join(", "),
        path.display()
    );
    let rows: Vec<Vec<String>> = model
        .clusters
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                thousands(c.size as u64),
                percent(c.share),
                c.distinguishing
                    .iter()
                    .take(4)
                    .map(|v| format!("{} {:.2} ({:+.1}σ)", v.feature, v.value, v.z))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    print!("{}", table(&["id", "name", "people", "share", "distinguishing features"], &rows));
    Ok(())
}
