//! The Rust side of `bench/predict.py`: builds the feature matrices, writes
//! them as CSV for scikit-learn, and times Cohort's K-means and logistic
//! regression on exactly those matrices (median of `--repeats`).
//!
//! Matrices: Online Retail buyers' behaviour features (profiles at the data
//! end), Online Retail churn features at the training and evaluation
//! cut-offs (standardised on the training rows), and two synthetic ones
//! (`--rows`): planted Gaussian blobs for K-means and a planted logistic
//! model for the regression.
//!
//!     cargo run --release -p cohort-predict --example predict_bench -- --out bench/out/predict

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cohort_insight::{compute_profiles, InsightConfig};
use cohort_predict::churn::{build_sets, default_cut_offs, logistic, metrics, ChurnSettings};
use cohort_predict::cluster::features::Standardiser;
use cohort_predict::cluster::kmeans::{kmeans, KMeansParams};
use cohort_predict::cluster::{behaviour_matrix, ClusterSettings};
use cohort_store::{EventStore, MemoryStore};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::json;

struct Opts {
    out: PathBuf,
    repeats: usize,
    rows: usize,
    k: usize,
}

fn opts() -> Opts {
    let mut o = Opts { out: PathBuf::from("bench/out/predict"), repeats: 5, rows: 200_000, k: 5 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--out" => o.out = PathBuf::from(v),
            "--repeats" => o.repeats = v.parse().expect("--repeats N"),
            "--rows" => o.rows = v.parse().expect("--rows N"),
            "--k" => o.k = v.parse().expect("--k N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o
}

fn write_csv(path: &Path, header: &[String], data: &[f64], d: usize, labels: Option<&[bool]>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create csv"));
    let mut head = header.join(",");
    if labels.is_some() {
        head.push_str(",y");
    }
    writeln!(f, "{head}").unwrap();
    for (i, row) in data.chunks(d).enumerate() {
        let mut line = row.iter().map(|v| format!("{v:.17e}")).collect::<Vec<_>>().join(",");
        if let Some(l) = labels {
            line.push_str(if l[i] { ",1" } else { ",0" });
        }
        writeln!(f, "{line}").unwrap();
    }
}

fn median_secs(repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn bench_kmeans(name: &str, data: &[f64], d: usize, k: usize, o: &Opts) -> serde_json::Value {
    let p = KMeansParams { k, restarts: 10, max_iterations: 300, tolerance: 1e-4, seed: 42 };
    let mut fit = None;
    let secs = median_secs(o.repeats, || fit = Some(kmeans(data, d, &p)));
    let fit = fit.unwrap();
    json!({ "matrix": name, "rows": data.len() / d, "dims": d, "k": k, "restarts": 10,
            "seconds": secs, "inertia": fit.inertia, "iterations": fit.iterations })
}

fn bench_logistic(
    name: &str,
    train: (&[f64], &[bool]),
    test: (&[f64], &[bool]),
    d: usize,
    o: &Opts,
) -> serde_json::Value {
    let mut fit = None;
    let secs = median_secs(o.repeats, || fit = Some(logistic::fit(train.0, train.1, d, 1.0, 50)));
    let fit = fit.unwrap();
    let probs: Vec<f64> = test
        .0
        .chunks(d)
        .map(|r| logistic::sigmoid(fit.intercept + r.iter().zip(&fit.weights).map(|(a, b)| a * b).sum::<f64>()))
        .collect();
    json!({ "matrix": name, "train_rows": train.1.len(), "test_rows": test.1.len(), "dims": d, "l2": 1.0,
            "seconds": secs, "auc": metrics::auc(&probs, test.1), "iterations": fit.iterations,
            "intercept": fit.intercept, "weights": fit.weights })
}

fn main() {
    let o = opts();
    std::fs::create_dir_all(&o.out).expect("create out dir");
    let mut results = Vec::new();

    // Online Retail.
    let file = cohort_testkit::data_root().join(cohort_testkit::ONLINE_RETAIL);
    if file.exists() {
        let store = MemoryStore::new();
        cohort_collect::import::import_file(
            &store,
            &cohort_collect::import::Source::online_retail(),
            &file,
            &cohort_collect::import::ImportOptions::default(),
            &cohort_collect::import::NoProgress,
        )
        .expect("import Online Retail");
        let end = store.stats().unwrap().last_at.unwrap();
        let insight = InsightConfig::default();
        compute_profiles(&store, end, &insight, &mut |_| {}).expect("profiles");
        let mut profiles = Vec::new();
        store
            .scan_profiles(&mut |p| {
                profiles.push(p);
                Ok(())
            })
            .unwrap();
        let m = behaviour_matrix(&profiles, &ClusterSettings::default());
        let d = m.features.len();
        write_csv(&o.out.join("or_clusters.csv"), &m.features, &m.data, d, None);
        results.push(json!({ "kmeans": bench_kmeans("online_retail_buyers", &m.data, d, o.k, &o) }));

        let settings = ChurnSettings::default();
        let (train_at, eval_at) = default_cut_offs(end, settings.horizon_days);
        let sets = build_sets(&store, &insight, &settings, &[train_at, eval_at]).unwrap();
        let d = sets[0].rows[0].len();
        let st = Standardiser::fit(&sets[0].rows, d);
        let (xt, xe) = (st.transform(&sets[0].rows), st.transform(&sets[1].rows));
        let names: Vec<String> = cohort_predict::churn::FEATURES.iter().map(|s| s.to_string()).collect();
        write_csv(&o.out.join("or_churn_train.csv"), &names, &xt, d, Some(&sets[0].labels));
        write_csv(&o.out.join("or_churn_eval.csv"), &names, &xe, d, Some(&sets[1].labels));
        results.push(json!({ "logistic": bench_logistic(
            "online_retail_churn", (&xt, &sets[0].labels), (&xe, &sets[1].labels), d, &o) }));
    } else {
        eprintln!("notice: {} not found; Online Retail matrices skipped", file.display());
    }

    // Synthetic blobs: k planted centres in 12 dimensions.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (d, k) = (12, o.k);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let centres: Vec<f64> = (0..k * d).map(|_| rng.random_range(-4.0..4.0)).collect();
    let blobs: Vec<f64> = (0..o.rows)
        .flat_map(|i| {
            let c = i % k;
            (0..d).map(|j| centres[c * d + j] + noise.sample(&mut rng)).collect::<Vec<_>>()
        })
        .collect();
    let names: Vec<String> = (0..d).map(|j| format!("x{j}")).collect();
    write_csv(&o.out.join("synthetic_blobs.csv"), &names, &blobs, d, None);
    results.push(json!({ "kmeans": bench_kmeans("synthetic_blobs", &blobs, d, k, &o) }));

    // Synthetic logistic: 15 features, planted weights, 80/20 split.
    let d = 15;
    let w: Vec<f64> = (0..d).map(|j| if j % 3 == 0 { 0.0 } else { rng.random_range(-1.0..1.0) }).collect();
    let x: Vec<f64> = (0..o.rows * d).map(|_| noise.sample(&mut rng)).collect();
    let y: Vec<bool> = x
        .chunks(d)
        .map(|r| rng.random::<f64>() < logistic::sigmoid(0.3 + r.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()))
        .collect();
    let cut = o.rows * 4 / 5;
    let names: Vec<String> = (0..d).map(|j| format!("x{j}")).collect();
    write_csv(&o.out.join("synthetic_logistic_train.csv"), &names, &x[..cut * d], d, Some(&y[..cut]));
    write_csv(&o.out.join("synthetic_logistic_test.csv"), &names, &x[cut * d..], d, Some(&y[cut..]));
    results.push(json!({ "logistic": bench_logistic(
        "synthetic_logistic", (&x[..cut * d], &y[..cut]), (&x[cut * d..], &y[cut..]), d, &o) }));

    println!("{}", serde_json::to_string_pretty(&results).unwrap());
}
