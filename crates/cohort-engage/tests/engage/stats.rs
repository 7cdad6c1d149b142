//! Experiment statistics against reference values computed once with SciPy
//! 1.17 (each constant names the call that produced it), and by simulation
//! with seeded generators: A/A tests hold the false-positive rate near α,
//! peeking at a fixed-horizon test does not while the sequential test does,
//! and a skewed split is caught by the SRM check.

use cohort_engage::experiment::bayes::beta_binomial;
use cohort_engage::experiment::sequential::{msprt, AlwaysValid};
use cohort_engage::experiment::stats::{benjamini_hochberg, cuped, holm, srm_check, two_proportion_z, welch_t, Sample};
use cohort_engage::experiment::Experiment;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} (±{tol})");
}

#[test]
fn two_proportion_z_matches_scipy() {
    // pc = 200/2000, pt = 250/2000; z with the pooled rate, p = 2·norm.sf(|z|),
    // interval diff ± norm.ppf(0.975)·sqrt(pc(1−pc)/nc + pt(1−pt)/nt)
    // (scipy.stats.norm; see /tmp script in docs/engage.md).
    let r = two_proportion_z((200, 2000), (250, 2000), 0.95).unwrap();
    close(r.difference, 0.025, 1e-12);
    close(r.statistic, 2.501955416802671, 1e-9);
    close(r.p_value, 0.012350947711191423, 1e-9);
    close(r.ci_low, 0.00543100855465602, 1e-9);
    close(r.ci_high, 0.04456899144534397, 1e-9);
    close(r.lift().unwrap(), 0.25, 1e-12);
    assert!(r.significant());
    assert!(two_proportion_z((5, 4), (1, 10), 0.95).is_err());
}

const A: [f64; 10] = [12.0, 15.5, 9.8, 14.2, 11.1, 13.7, 10.4, 16.0, 12.9, 11.8];
const B: [f64; 12] = [14.1, 17.3, 12.2, 18.9, 15.0, 13.4, 16.8, 19.5, 14.7, 15.9, 17.2, 13.8];

#[test]
fn welch_t_matches_scipy() {
    // r = scipy.stats.ttest_ind(B, A, equal_var=False); r.confidence_interval(0.95)
    let r = welch_t(&Sample::of(&A), &Sample::of(&B), 0.95).unwrap();
    close(r.statistic, 3.22164375065698, 1e-9);
    close(r.p_value, 0.004335774973921953, 1e-8);
    close(r.df.unwrap(), 19.720596583400425, 1e-9);
    close(r.ci_low, 1.0534354008979965, 1e-7);
    close(r.ci_high, 4.933231265768672, 1e-7);
}

#[test]
fn srm_matches_scipy_chisquare() {
    // scipy.stats.chisquare([5300, 4700], [5000, 5000]) → (36.0, 1.9731752900753933e-09)
    let s = srm_check(&[5300, 4700], &[0.5, 0.5]).unwrap();
    close(s.chi_square, 36.0, 1e-9);
    close(s.p_value / 1.9731752900753933e-09, 1.0, 1e-6);
    assert!(s.mismatch);
    // scipy.stats.chisquare([1010, 2050, 940], [1000, 2000, 1000]) → (4.95, 0.08416299025731035)
    let s = srm_check(&[1010, 2050, 940], &[1.0, 2.0, 1.0]).unwrap();
    close(s.chi_square, 4.95, 1e-9);
    close(s.p_value, 0.08416299025731035, 1e-9);
    assert!(!s.mismatch);
}

#[test]
fn holm_and_benjamini_hochberg() {
    let p = [0.01, 0.04, 0.03, 0.005, 0.2];
    // Holm by hand: sorted 0.005·5 = 0.025, 0.01·4 = 0.04, 0.03·3 = 0.09,
    // 0.04·2 = 0.08 → 0.09 (monotone), 0.2·1 = 0.2.
    let h = holm(&p);
    for (got, want) in h.iter().zip([0.04, 0.09, 0.09, 0.025, 0.2]) {
        close(*got, want, 1e-12);
    }
    // scipy.stats.false_discovery_control(p, method='bh')
    let bh = benjamini_hochberg(&p);
    for (got, want) in bh.iter().zip([0.025, 0.05, 0.05, 0.025, 0.2]) {
        close(*got, want, 1e-12);
    }
}

#[test]
fn beta_binomial_matches_closed_form_and_quadrature() {
    // Chance to win: Evan Miller's closed form with scipy.special.betaln,
    // Beta(201, 1801) vs Beta(251, 1751) → 0.993814348322987.
    // Expected losses: nested scipy.integrate.quad of (c − t)·pdf → 1.997635153343949e-05
    // (choosing treatment) and 0.024995001342098172 (keeping control).
    let r = beta_binomial((200, 2000), (250, 2000), (1.0, 1.0)).unwrap();
    close(r.chance_to_win, 0.993814348322987, 1e-7);
    close(r.expected_loss_treatment, 1.997635153343949e-05, 1e-8);
    close(r.expected_loss_control, 0.024995001342098172, 1e-7);
    // loss_control − loss_treatment = E[T] − E[C] exactly.
    close(r.expected_loss_control - r.expected_loss_treatment, 251.0 / 2002.0 - 201.0 / 2002.0, 1e-7);
    let even = beta_binomial((100, 1000), (100, 1000), (1.0, 1.0)).unwrap();
    close(even.chance_to_win, 0.5, 1e-7);
}

#[test]
fn cuped_matches_numpy_and_scipy() {
    let c = [(10.0, 9.0), (12.0, 11.5), (9.0, 8.0), (14.0, 13.0), (11.0, 10.5), (13.0, 12.0), (8.0, 8.5), (12.5, 12.0)];
    let t =
        [(12.0, 10.0), (14.5, 12.0), (10.0, 8.5), (15.0, 13.5), (13.0, 11.0), (11.5, 9.5), (16.0, 14.0), (12.0, 10.5)];
    // theta = np.cov(X, Y)[0,1] / np.var(X, ddof=1) over both groups; ρ² = np.corrcoef(X, Y)[0,1]**2;
    // scipy.stats.ttest_ind(adj_t, adj_c, equal_var=False) on y − θ(x − x̄).
    let r = cuped(&c, &t, 0.95).unwrap();
    close(r.theta, 1.109522360815333, 1e-9);
    close(r.variance_reduction, 0.8829212415216061, 1e-9);
    close(r.test.statistic, 5.377619604048711, 1e-8);
    close(r.test.p_value, 0.0001249783218401443, 1e-9);
    close(r.test.ci_low, 0.7110771415208554, 1e-7);
    close(r.test.ci_high, 1.6657102025618982, 1e-7);
}

#[test]
fn msprt_matches_the_formula() {
    // Λ = sqrt(v/(v+τ²))·exp(τ²d²/(2v(v+τ²))), radius sqrt(v(v+τ²)/τ²·(2 ln(1/α) + ln((v+τ²)/v)))
    // evaluated with Python's math for d = 0.012, v = 4e-5, τ² = 1e-4, α = 0.05.
    let r = msprt(0.012, 0.00004, 0.0001, 0.05).unwrap();
    close(r.likelihood_ratio, 1.93350187433849, 1e-10);
    close(r.p_value, 0.5171962920088353, 1e-10);
    close(r.ci_low, -0.008141418541745951, 1e-12);
    close(r.ci_high, 0.03214141854174595, 1e-12);
    assert!(msprt(0.0, 0.0, 1.0, 0.05).is_err());
}

fn conversions(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    (0..n).filter(|_| rng.random_bool(p)).count() as u64
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[test]
fn aa_tests_hold_the_false_positive_rate_near_alpha() {
    let mut rng = ChaCha8Rng::seed_from_u64(20240501);
    let runs = 2000;
    let mut z_hits = 0;
    for _ in 0..runs {
        let (a, b) = (conversions(&mut rng, 1000, 0.1), conversions(&mut rng, 1000, 0.1));
        if two_proportion_z((a, 1000), (b, 1000), 0.95).unwrap().p_value < 0.05 {
            z_hits += 1;
        }
    }
    let mut t_hits = 0;
    for _ in 0..runs {
        // Skewed, unequal-variance groups with the same mean (revenue-like).
        let a: Vec<f64> = (0..150).map(|_| (normal(&mut rng) * 0.8).exp()).collect();
        let b: Vec<f64> = (0..90).map(|_| 1.377_127_764 + 0.3 * normal(&mut rng)).collect();
        if welch_t(&Sample::of(&a), &Sample::of(&b), 0.95).unwrap().p_value < 0.05 {
            t_hits += 1;
        }
    }
    let (z_rate, t_rate) = (z_hits as f64 / runs as f64, t_hits as f64 / runs as f64);
    println!("A/A false-positive rate at alpha 0.05: z-test {z_rate}, Welch {t_rate} ({runs} runs each)");
    // 0.05 ± 3 binomial sd (0.0049) = [0.035, 0.065]; lognormal skew pushes
    // Welch slightly up, so it gets [0.035, 0.08].
    assert!((0.035..=0.065).contains(&z_rate), "z-test A/A false-positive rate {z_rate}");
    assert!((0.035..=0.08).contains(&t_rate), "Welch A/A false-positive rate {t_rate}");
}

#[test]
fn peeking_inflates_fixed_tests_but_not_the_sequential_test() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (runs, looks, per_look, p) = (400, 20, 200u64, 0.1);
    let (mut naive, mut seq) = (0, 0);
    for _ in 0..runs {
        let (mut xa, mut xb, mut n) = (0u64, 0u64, 0u64);
        let mut av = AlwaysValid::default();
        let mut naive_hit = false;
        for _ in 0..looks {
            xa += conversions(&mut rng, per_look, p);
            xb += conversions(&mut rng, per_look, p);
            n += per_look;
            let z = two_proportion_z((xa, n), (xb, n), 0.95).unwrap();
            naive_hit |= z.p_value < 0.05;
            let v = z.std_error.powi(2).max(1e-12);
            av.update(&msprt(z.difference, v, 0.02f64.powi(2), 0.05).unwrap());
        }
        naive += u32::from(naive_hit);
        seq += u32::from(av.rejects(0.05));
    }
    let (naive_rate, seq_rate) = (naive as f64 / runs as f64, seq as f64 / runs as f64);
    println!("A/A with 20 looks: fixed z-test rejects {naive_rate}, mSPRT {seq_rate} ({runs} runs)");
    assert!(naive_rate > 0.12, "peeking 20 times should inflate the fixed test: {naive_rate}");
    assert!(seq_rate <= 0.05, "the anytime-valid test must stay under alpha: {seq_rate}");
}

#[test]
fn srm_is_detected_on_a_skewed_split() {
    let exp = Experiment::new("srm_demo", &[("control", 1), ("treatment", 1)]).unwrap();
    let mut counts = [0u64; 2];
    let mut lossy = [0u64; 2];
    for i in 0..20_000 {
        let unit = format!("person-{i}");
        let arm = usize::from(exp.arm_of(&unit).unwrap() == "treatment");
        counts[arm] += 1;
        // A tracking bug loses 1 in 20 treatment exposures.
        if arm == 0 || i % 20 != 0 {
            lossy[arm] += 1;
        }
    }
    let healthy = srm_check(&counts, &exp.expected_shares()).unwrap();
    assert!(!healthy.mismatch, "hash split must pass: {counts:?} p = {}", healthy.p_value);
    let broken = srm_check(&lossy, &exp.expected_shares()).unwrap();
    assert!(broken.mismatch, "a 5% loss in one arm must be flagged: {lossy:?} p = {}", broken.p_value);
}
