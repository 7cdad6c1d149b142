//! Readable cluster names from a centroid's most distinctive features.

/// A centroid coordinate must be at least this many standard deviations
/// from the population mean to name the cluster.
pub const NAMING_MIN_Z: f64 = 0.5;

/// Phrases joined into one name, at most.
pub const NAME_PARTS: usize = 2;

/// The phrase for a feature pushed in one direction, if it reads well.
/// `window` is the cluster's busiest 4-hour span ("22:00–02:00").
fn phrase(feature: &str, high: bool, window: &str) -> Option<String> {
    let p = match (feature, high) {
        ("night_share", true) => format!("night owls {window}"),
        ("morning_share", true) => format!("early birds {window}"),
        ("weekend_share", true) => "weekend stock-up".into(),
        ("weekend_share", false) => "weekday shoppers".into(),
        ("price_level", true) => "big spenders".into(),
        ("price_level", false) => "small-basket buyers".into(),
        ("frequency", true) => "loyal regulars".into(),
        ("frequency", false) => "one-time buyers".into(),
        ("recency", true) => "lapsed".into(),
        ("recency", false) => "recently active".into(),
        ("discount_share", true) => "discount hunters".into(),
        ("discount_share", false) => "full-price buyers".into(),
        ("app_share", true) => "app-first".into(),
        ("mini_program_share", true) => "mini-program shoppers".into(),
        ("web_share", true) => "web shoppers".into(),
        ("store_share", true) => "in-store shoppers".into(),
        (f, true) if f.starts_with("category:") => format!("{} fans", &f["category:".len()..]),
        _ => return None,
    };
    Some(p)
}

/// The busiest 4-hour window of an hour histogram, as "HH:00–HH:00".
pub fn busiest_window(hours: &[f64; 24]) -> String {
    let start = (0..24)
        .max_by(|&a, &b| {
            let sa: f64 = (0..4).map(|i| hours[(a + i) % 24]).sum();
            let sb: f64 = (0..4).map(|i| hours[(b + i) % 24]).sum();
            // Ties go to the earlier hour (max_by keeps the last maximum).
            sa.total_cmp(&sb).then(b.cmp(&a))
        })
        .unwrap_or(0);
    format!("{:02}:00–{:02}:00", start, (start + 4) % 24)
}

/// The distinctive (feature index, z) pairs of a centroid that have a
/// phrase, most distinctive first (ties by feature order).
pub fn descriptors(features: &[String], centroid: &[f64]) -> Vec<(usize, f64)> {
    let mut d: Vec<(usize, f64)> = centroid
        .iter()
        .enumerate()
        .filter(|(j, z)| z.abs() >= NAMING_MIN_Z && phrase(&features[*j], **z > 0.0, "").is_some())
        .map(|(j, z)| (j, *z))
        .collect();
    d.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    d
}

/// Names every cluster from its descriptors; names are made unique by
/// adding further phrases, then the cluster number.
pub fn name_clusters(features: &[String], centroids: &[Vec<f64>], windows: &[String]) -> Vec<String> {
    let phrases: Vec<Vec<String>> = centroids
        .iter()
        .zip(windows)
        .map(|(c, w)| descriptors(features, c).iter().filter_map(|&(j, z)| phrase(&features[j], z > 0.0, w)).collect())
        .collect();
    let mut names: Vec<String> = Vec::with_capacity(centroids.len());
    for (i, ps) in phrases.iter().enumerate() {
        let mut parts = NAME_PARTS.min(ps.len());
        let mut name = if ps.is_empty() { "typical buyers".to_string() } else { ps[..parts].join(" · ") };
        while names.contains(&name) && parts < ps.len() {
            parts += 1;
            name = ps[..parts].join(" · ");
        }
        if names.contains(&name) {
            name = format!("{name} #{}", i + 1);
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_wraps_midnight() {
        let mut h = [0.0; 24];
        for i in [22, 23, 0, 1] {
            h[i] = 5.0;
        }
        h[12] = 3.0;
        assert_eq!(busiest_window(&h), "22:00–02:00");
    }

    #[test]
    fn names_from_strongest_features_and_unique() {
        let features: Vec<String> =
            ["night_share", "discount_share", "category:Beauty"].iter().map(|s| s.to_string()).collect();
        let centroids = vec![vec![2.0, 0.9, 0.1], vec![0.1, 1.5, 0.0], vec![0.0, 1.2, 0.2], vec![0.1, 0.0, 0.3]];
        let w = vec!["22:00–02:00".to_string(); 4];
        let names = name_clusters(&features, &centroids, &w);
        assert_eq!(
            names,
            ["night owls 22:00–02:00 · discount hunters", "discount hunters", "discount hunters #3", "typical buyers"]
        );
    }
}
