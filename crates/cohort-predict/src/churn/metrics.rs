//! Evaluation of risk scores: ROC AUC, precision / recall at a threshold,
//! and a calibration table.

use serde::{Deserialize, Serialize};

/// ROC AUC (the Mann–Whitney statistic; tied scores count one half).
/// `None` when one class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Sum of the (average) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// One row of the calibration table: scores in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lower score bound (inclusive).
    pub from: f64,
    /// Upper score bound (exclusive; the last bin includes 100).
    pub to: f64,
    /// People in the bin.
    pub count: usize,
    /// Mean predicted churn probability.
    pub predicted: f64,
    /// Observed churn rate.
    pub observed: f64,
}

/// Scores 0–100 binned by tens.
pub fn calibration(scores: &[f64], labels: &[bool]) -> Vec<CalibrationBin> {
    let mut bins: Vec<CalibrationBin> = (0..10)
        .map(|b| CalibrationBin {
            from: f64::from(b) * 10.0,
            to: f64::from(b + 1) * 10.0,
            count: 0,
            predicted: 0.0,
            observed: 0.0,
        })
        .collect();
    for (s, &l) in scores.iter().zip(labels) {
        let b = ((s / 10.0).floor() as usize).min(9);
        bins[b].count += 1;
        bins[b].predicted += s / 100.0;
        bins[b].observed += f64::from(u8::from(l));
    }
    for b in &mut bins {
        if b.count > 0 {
            b.predicted /= b.count as f64;
            b.observed /= b.count as f64;
        }
    }
    bins
}

/// Precision and recall of flagging scores `>= threshold`; (flagged, precision, recall).
pub fn at_threshold(scores: &[f64], labels: &[bool], threshold: f64) -> (usize, Option<f64>, Option<f64>) {
    let flagged = scores.iter().filter(|&&s| s >= threshold).count();
    let hits = scores.iter().zip(labels).filter(|(&s, &l)| s >= threshold && l).count();
    let pos = labels.iter().filter(|&&l| l).count();
    let precision = (flagged > 0).then(|| hits as f64 / flagged as f64);
    let recall = (pos > 0).then(|| hits as f64 / pos as f64);
    (flagged, precision, recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Positives at 0.8, 0.4; negatives at 0.6, 0.2, 0.4 (a tie).
        // Pairs won: 0.8 beats all 3, 0.4 beats 0.2, ties 0.4 (½): 4.5 / 6.
        let s = [0.8, 0.4, 0.6, 0.2, 0.4];
        let l = [true, true, false, false, false];
        assert!((auc(&s, &l).unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(auc(&s, &[true; 5]), None);
    }

    #[test]
    fn threshold_and_calibration_by_hand() {
        let s = [95.0, 85.0, 80.0, 79.9, 10.0, 100.0];
        let l = [true, false, true, true, false, true];
        let (flagged, p, r) = at_threshold(&s, &l, 80.0);
        assert_eq!(flagged, 4);
        assert_eq!(p, Some(0.75));
        assert_eq!(r, Some(0.75));
        let cal = calibration(&s, &l);
        assert_eq!(cal[9].count, 2); // 95 and 100
        assert_eq!(cal[8].count, 2); // 85, 80
        assert!((cal[8].predicted - 0.825).abs() < 1e-12);
        assert_eq!(cal[8].observed, 0.5);
    }
}
