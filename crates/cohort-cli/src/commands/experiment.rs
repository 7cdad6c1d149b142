//! `cohort experiment`: deterministic assignment and the read-out of an
//! experiment from its counts — z-test with interval, Bayesian chance to
//! win and expected loss, sample-ratio check, and Holm / Benjamini–Hochberg
//! across arms. Stateless: campaigns store sticky assignments themselves.

use cohort_engage::experiment::readout::{read_out, ArmCounts, ArmReadout};
use cohort_engage::experiment::{Arm, Assignment, Experiment, Holdout, NamespaceSlot};

use crate::output::table;

/// Arguments of `cohort experiment`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// The arm of each unit: SHA-256 of "salt:unit" into 10 000 buckets.
    Assign {
        /// Experiment id (also the salt unless --salt).
        #[arg(long)]
        experiment: String,
        /// Arms as name=weight, the first one the control: control=1,treatment=1.
        #[arg(long, value_delimiter = ',', required = true)]
        arms: Vec<String>,
        /// Hash salt.
        #[arg(long)]
        salt: Option<String>,
        /// Namespace and slot range for mutually exclusive experiments: home_banner:0..5000.
        #[arg(long)]
        namespace: Option<String>,
        /// Global holdout share in basis points (500 = 5%).
        #[arg(long, default_value_t = 0)]
        holdout_bp: u64,
        /// Global holdout salt.
        #[arg(long, default_value = "global-holdout")]
        holdout_salt: String,
        /// Unit ids (person ids).
        #[arg(required = true)]
        units: Vec<String>,
    },
    /// Compare arms from conversion counts: name=conversions/units, control first.
    Analyze {
        /// Arms: control=200/2000 treatment=250/2000.
        #[arg(required = true, num_args = 2..)]
        arms: Vec<String>,
        /// Configured weights for the SRM check (default equal): 1,1.
        #[arg(long, value_delimiter = ',')]
        weights: Vec<f64>,
        /// Confidence level of the intervals.
        #[arg(long, default_value_t = 0.95)]
        confidence: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_arm(text: &str) -> anyhow::Result<(String, u32)> {
    let (name, weight) = text.split_once('=').ok_or_else(|| anyhow::anyhow!("arm {text:?}: expected name=weight"))?;
    Ok((name.to_string(), weight.parse().map_err(|e| anyhow::anyhow!("arm {text:?}: weight: {e}"))?))
}

fn parse_counts(text: &str) -> anyhow::Result<ArmCounts> {
    let err = || anyhow::anyhow!("arm {text:?}: expected name=conversions/units");
    let (name, counts) = text.split_once('=').ok_or_else(err)?;
    let (x, n) = counts.split_once('/').ok_or_else(err)?;
    Ok(ArmCounts {
        name: name.to_string(),
        conversions: x.trim().parse().map_err(|_| err())?,
        units: n.trim().parse().map_err(|_| err())?,
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        ExperimentCommand::Assign { experiment, arms, salt, namespace, holdout_bp, holdout_salt, units } => {
            let arms = arms.iter().map(|a| parse_arm(a)).collect::<anyhow::Result<Vec<_>>>()?;
            let namespace = match namespace {
                Some(text) => {
                    let err = || anyhow::anyhow!("--namespace {text:?}: expected name:start..end");
                    let (name, range) = text.split_once(':').ok_or_else(err)?;
                    let (start, end) = range.split_once("..").ok_or_else(err)?;
                    Some(NamespaceSlot {
                        namespace: name.to_string(),
                        start: start.parse().map_err(|_| err())?,
                        end: end.parse().map_err(|_| err())?,
                    })
                }
                None => None,
            };
            let exp = Experiment {
                salt: salt.unwrap_or_else(|| experiment.clone()),
                id: experiment,
                control: arms.first().map(|a| a.0.clone()).unwrap_or_default(),
                arms: arms.into_iter().map(|(name, weight)| Arm { name, weight }).collect(),
                namespace,
            };
            exp.validate()?;
            let holdout = (holdout_bp > 0).then_some(Holdout { salt: holdout_salt, share_bp: holdout_bp });
            for unit in units {
                let arm = match exp.assign(holdout.as_ref(), &unit) {
                    Assignment::Arm(a) => a,
                    Assignment::Holdout => "(holdout)".to_string(),
                    Assignment::NotEligible => "(not in this experiment)".to_string(),
                };
                println!("{unit}\t{arm}");
            }
            Ok(())
        }
        ExperimentCommand::Analyze { arms, weights, confidence, json } => {
            let arms = arms.iter().map(|a| parse_counts(a)).collect::<anyhow::Result<Vec<_>>>()?;
            let readout = read_out(&arms, &weights, confidence)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&readout)?);
                return Ok(());
            }
            let pct = |v: f64| format!("{:.2}%", v * 100.0);
            let control = &readout.control;
            let mut rows = vec![vec![
                control.name.clone(),
                pct(control.conversions as f64 / control.units as f64),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]];
            for ArmReadout { arm, test: z, bayes: b, holm_p, bh_p } in &readout.arms {
                rows.push(vec![
                    arm.clone(),
                    pct(z.treatment),
                    format!("{:+.2} pt [{:+.2}, {:+.2}]", z.difference * 100.0, z.ci_low * 100.0, z.ci_high * 100.0),
                    format!("{:.4}", z.p_value),
                    format!("{holm_p:.4}"),
                    format!("{bh_p:.4}"),
                    pct(b.chance_to_win),
                    format!("{:.4} pt", b.expected_loss_treatment * 100.0),
                ]);
            }
            print!(
                "{}",
                table(&["arm", "rate", "uplift (CI)", "p", "Holm p", "BH p", "chance to win", "expected loss"], &rows)
            );
            println!(
                "sample ratio: chi-square {:.2}, p = {:.4}{}",
                readout.srm.chi_square,
                readout.srm.p_value,
                if readout.srm.mismatch { " — MISMATCH (p < 0.001): do not trust these results" } else { " (ok)" }
            );
            Ok(())
        }
    }
}
