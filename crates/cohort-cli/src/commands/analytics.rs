//! `cohort funnel`, `cohort retention`, `cohort lifecycle`, `cohort kpi`, `cohort paths`: build
//! a spec from flags (or read it as JSON with `--spec`, the same body the
//! HTTP API takes), run it with `cohort-analytics`, print a table or JSON.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use cohort_analytics::{
    Activity, Analytics, DateRange, EventMatch, Exclusion, Filter, FunnelMode, FunnelResult, FunnelSpec, FunnelStep,
    KpiBoard, KpiSpec, KpiUnit, LifecycleResult, LifecycleSpec, PathSpec, Period, Property, RetentionMode,
    RetentionResult, RetentionSpec, Window,
};
use serde::de::DeserializeOwned;

use super::Context;
use crate::output::{percent, table, thousands};

/// Date range and output flags shared by every analysis.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// First shop-local date (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Last shop-local date (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Read the whole spec from a JSON file instead of flags.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    fn range(&self) -> DateRange {
        DateRange { from: self.from, to: self.to }
    }

    fn read_spec<T: DeserializeOwned>(&self) -> anyhow::Result<Option<T>> {
        let Some(path) = &self.spec else { return Ok(None) };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Some(serde_json::from_str(&text).with_context(|| format!("invalid spec {}", path.display()))?))
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Arguments of `cohort funnel`.
#[derive(Debug, clap::Args)]
pub struct FunnelArgs {
    /// Steps in order: `EVENT` or `EVENT[filter,…]`, e.g. `"Product Viewed[category=零食]"`.
    #[arg(value_name = "STEP")]
    pub steps: Vec<String>,
    /// Conversion window from the first step: 30m, 2h, 7d, 1w.
    #[arg(long, default_value = "14d")]
    pub window: Window,
    /// ordered, strict, strict-increase or any-order.
    #[arg(long, default_value = "ordered")]
    pub mode: FunnelMode,
    /// Per-step window `STEP:WINDOW` (1-based step), e.g. `3:1h`.
    #[arg(long, value_name = "STEP:WINDOW")]
    pub within: Vec<String>,
    /// Exclusion `EVENT:FROM-TO`, e.g. `"Product Removed:2-3"`.
    #[arg(long, value_name = "EVENT:FROM-TO")]
    pub exclude: Vec<String>,
    /// Break down by a property of the first step (platform, channel, category, any property).
    #[arg(long, value_name = "PROPERTY")]
    pub breakdown: Option<String>,
    /// A filter every event must pass, e.g. `platform=app`.
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// List the people who reached the step before this one (1-based) but not this one.
    #[arg(long, value_name = "STEP")]
    pub dropped_at: Option<usize>,
    #[command(flatten)]
    pub common: Common,
}

impl FunnelArgs {
    fn spec(&self) -> anyhow::Result<FunnelSpec> {
        if let Some(spec) = self.common.read_spec()? {
            return Ok(spec);
        }
        let steps = self.steps.iter().map(|s| EventMatch::parse(s).map(FunnelStep::new)).collect::<Result<_, _>>();
        let mut spec = FunnelSpec::new([]);
        spec.steps = steps.map_err(anyhow::Error::msg)?;
        spec.window = self.window;
        spec.mode = self.mode;
        for w in &self.within {
            let (step, window) = w.split_once(':').context("--within takes STEP:WINDOW, e.g. 3:1h")?;
            let step: usize = step.parse().with_context(|| format!("--within {w}: bad step number"))?;
            let slot =
                spec.steps.get_mut(step.wrapping_sub(1)).with_context(|| format!("--within {w}: no step {step}"))?;
            slot.within = Some(window.parse().map_err(anyhow::Error::msg)?);
        }
        for x in &self.exclude {
            let (event, steps) =
                x.rsplit_once(':').context("--exclude takes EVENT:FROM-TO, e.g. 'Product Removed:2-3'")?;
            let (from, to) = steps.split_once('-').with_context(|| format!("--exclude {x}: steps as FROM-TO"))?;
            let m = EventMatch::parse(event).map_err(anyhow::Error::msg)?;
            spec.exclusions.push(Exclusion {
                event: m.event,
                filters: m.filters,
                from_step: from.parse().with_context(|| format!("--exclude {x}: bad step"))?,
                to_step: to.parse().with_context(|| format!("--exclude {x}: bad step"))?,
            });
        }
        spec.breakdown = self.breakdown.as_deref().map(Property::parse);
        spec.filters =
            self.filter.iter().map(|f| Filter::parse(f)).collect::<Result<_, _>>().map_err(anyhow::Error::msg)?;
        spec.range = self.common.range();
        spec.dropped_at = self.dropped_at;
        Ok(spec)
    }
}

fn duration(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) if s < 172_800.0 => format!("{:.1}h", s / 3600.0),
        Some(s) => format!("{:.1}d", s / 86_400.0),
    }
}

fn funnel_table(steps: &[cohort_analytics::FunnelStepResult]) -> String {
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            vec![
                s.step.to_string(),
                s.label.clone(),
                thousands(s.persons),
                percent(s.conversion_rate),
                percent(s.step_conversion_rate),
                thousands(s.dropped_off),
                duration(s.median_seconds_from_previous),
            ]
        })
        .collect();
    table(&["step", "event", "people", "overall", "from previous", "dropped", "median time"], &rows)
}

fn print_funnel(r: &FunnelResult) {
    println!("funnel ({:?}, window {}):", r.mode, r.window);
    print!("{}", funnel_table(&r.steps));
    if r.excluded_persons > 0 {
        println!("{} people excluded by exclusion steps", thousands(r.excluded_persons));
    }
    if let Some(p) = &r.breakdown {
        for b in &r.breakdowns {
            println!("\n{p} = {}:", b.value);
            print!("{}", funnel_table(&b.steps));
        }
    }
    if let Some(d) = &r.dropped {
        println!("\n{} people dropped at step {}:", thousands(d.persons.len() as u64), d.step);
        for p in &d.persons {
            println!("{p}");
        }
    }
}

/// `cohort funnel`.
pub fn funnel(ctx: &Context, args: FunnelArgs) -> anyhow::Result<()> {
    let spec = args.spec()?;
    let result = Analytics::new(&ctx.store, ctx.shop).funnel(&spec)?;
    if args.common.json {
        print_json(&result)
    } else {
        print_funnel(&result);
        Ok(())
    }
}

/// Arguments of `cohort retention`.
#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    /// What puts people in a cohort (its first occurrence): `any`, `order`, or an event.
    #[arg(long, default_value = "any")]
    pub cohort: String,
    /// What counts as coming back: `any`, `order`, or an event.
    #[arg(long, default_value = "any")]
    pub returning: String,
    /// day, week or month (shop-local; weeks start on Monday).
    #[arg(long, default_value = "week")]
    pub period: Period,
    /// Return periods after the cohort's own.
    #[arg(long, default_value_t = 8)]
    pub periods: u32,
    /// Unbounded retention: back in the period or any later one.
    #[arg(long)]
    pub unbounded: bool,
    #[command(flatten)]
    pub common: Common,
}

fn print_retention(r: &RetentionResult) {
    println!("{} cohorts by first {}, returning on {} ({:?}):", r.period.as_str(), r.cohort, r.returning, r.mode);
    let n = r.average.len();
    let mut header = vec!["cohort".to_string(), "people".to_string()];
    header.extend((1..n).map(|k| format!("+{k}")));
    let cell = |rate: &Option<f64>| rate.map_or_else(String::new, percent);
    let mut rows: Vec<Vec<String>> = r
        .cohorts
        .iter()
        .map(|c| {
            let mut row = vec![c.cohort.to_string(), thousands(c.size)];
            row.extend(c.rates.iter().skip(1).map(cell));
            row
        })
        .collect();
    let mut avg = vec!["all".to_string(), thousands(r.cohorts.iter().map(|c| c.size).sum())];
    avg.extend(r.average.iter().skip(1).map(cell));
    rows.push(avg);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print!("{}", table(&header, &rows));
}

/// `cohort retention`.
pub fn retention(ctx: &Context, args: RetentionArgs) -> anyhow::Result<()> {
    let spec = match args.common.read_spec()? {
        Some(spec) => spec,
        None => RetentionSpec {
            cohort: Activity::parse(&args.cohort).map_err(anyhow::Error::msg)?,
            returning: Activity::parse(&args.returning).map_err(anyhow::Error::msg)?,
            period: args.period,
            periods: args.periods,
            mode: if args.unbounded { RetentionMode::Unbounded } else { RetentionMode::Bounded },
            range: args.common.range(),
            as_of: None,
        },
    };
    let result = Analytics::new(&ctx.store, ctx.shop).retention(&spec)?;
    if args.common.json {
        print_json(&result)
    } else {
        print_retention(&result);
        Ok(())
    }
}

/// Arguments of `cohort lifecycle`.
#[derive(Debug, clap::Args)]
pub struct LifecycleArgs {
    /// What counts as being active: `any`, `order`, or an event.
    #[arg(long, default_value = "any")]
    pub activity: String,
    /// day, week or month (shop-local; weeks start on Monday).
    #[arg(long, default_value = "week")]
    pub period: Period,
    #[command(flatten)]
    pub common: Common,
}

fn print_lifecycle(r: &LifecycleResult) {
    println!("{} lifecycle on {}:", r.period.as_str(), r.activity);
    let rows: Vec<Vec<String>> = r
        .periods
        .iter()
        .map(|p| {
            vec![
                p.period.to_string(),
                thousands(p.new),
                thousands(p.returning),
                thousands(p.resurrected),
                format!("-{}", thousands(p.dormant)),
                thousands(p.active),
                p.quick_ratio.map_or_else(String::new, |q| format!("{q:.2}")),
            ]
        })
        .collect();
    let header = ["period", "new", "returning", "resurrected", "dormant", "active", "quick ratio"];
    print!("{}", table(&header, &rows));
}

/// `cohort lifecycle`.
pub fn lifecycle(ctx: &Context, args: LifecycleArgs) -> anyhow::Result<()> {
    let spec = match args.common.read_spec()? {
        Some(spec) => spec,
        None => LifecycleSpec {
            activity: Activity::parse(&args.activity).map_err(anyhow::Error::msg)?,
            period: args.period,
            range: args.common.range(),
            as_of: None,
        },
    };
    let result = Analytics::new(&ctx.store, ctx.shop).lifecycle(&spec)?;
    if args.common.json {
        print_json(&result)
    } else {
        print_lifecycle(&result);
        Ok(())
    }
}

/// Arguments of `cohort kpi`.
#[derive(Debug, clap::Args)]
pub struct KpiArgs {
    /// Period of CAC per period and of the segment shares over time: day,
    /// week or month (shop-local).
    #[arg(long, default_value = "month")]
    pub period: Period,
    /// Segment shares over this many periods, ending with the one holding
    /// the range's last day (0: none).
    #[arg(long, default_value_t = 12)]
    pub history: u32,
    #[command(flatten)]
    pub common: Common,
}

fn kpi_value(value: Option<f64>, unit: KpiUnit) -> String {
    match (value, unit) {
        (None, _) => "-".into(),
        (Some(v), KpiUnit::Ratio) => percent(v),
        (Some(v), KpiUnit::Fen) => format!("¥{:.2}", v / 100.0),
        (Some(v), _) if v.fract() == 0.0 => thousands(v as u64),
        (Some(v), _) => format!("{v:.1}"),
    }
}

fn print_board(b: &KpiBoard) {
    println!("KPI board {} to {} (as of {}):", b.from, b.to, b.as_of.format("%Y-%m-%d %H:%M UTC"));
    let rows: Vec<Vec<String>> = b
        .kpis
        .iter()
        .map(|k| {
            let target =
                k.target.as_ref().map_or(String::new(), |t| format!("{} {}", t.op, kpi_value(Some(t.value), k.unit)));
            let status = match k.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None if k.target.is_some() => "n/a",
                None => "",
            };
            vec![k.label.clone(), kpi_value(k.value, k.unit), target, status.into(), k.note.clone().unwrap_or_default()]
        })
        .collect();
    print!("{}", table(&["KPI", "value", "target", "status", "note"], &rows));
    if !b.ltv.is_empty() {
        println!("\nLTV per person by acquisition month:");
        let rows: Vec<Vec<String>> = b
            .ltv
            .iter()
            .map(|r| {
                let mut row = vec![r.cohort.format("%Y-%m").to_string(), thousands(r.persons)];
                row.extend(r.ltv_fen.iter().map(|v| kpi_value(*v, KpiUnit::Fen)));
                row
            })
            .collect();
        print!("{}", table(&["month", "people", "30 days", "90 days", "180 days"], &rows));
    }
    if !b.cac.is_empty() {
        println!("\nCAC by acquisition channel (registration channel, else first touch, else first order's):");
        let rows: Vec<Vec<String>> = b
            .cac
            .iter()
            .map(|c| {
                let status = match c.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "n/a",
                };
                vec![
                    c.channel.clone(),
                    kpi_value(Some(c.spend_fen as f64), KpiUnit::Fen),
                    thousands(c.new_customers),
                    kpi_value(c.cac_fen, KpiUnit::Fen),
                    status.into(),
                ]
            })
            .collect();
        print!("{}", table(&["channel", "spend", "new customers", "CAC", "status"], &rows));
    }
    if !b.cac_by_period.is_empty() {
        println!("\nCAC by {} and channel:", b.period.as_str());
        let rows: Vec<Vec<String>> = b
            .cac_by_period
            .iter()
            .map(|c| {
                let status = match c.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "n/a",
                };
                vec![
                    c.period.to_string(),
                    c.channel.clone(),
                    kpi_value(Some(c.spend_fen as f64), KpiUnit::Fen),
                    thousands(c.new_customers),
                    kpi_value(c.cac_fen, KpiUnit::Fen),
                    status.into(),
                ]
            })
            .collect();
        print!("{}", table(&["period", "channel", "spend", "new customers", "CAC", "status"], &rows));
    }
    if let Some(first) = b.segment_history.first() {
        println!(
            "\nvalue tiers and lifecycle stages at each {} end (share of people known by then):",
            b.period.as_str()
        );
        let mut header = vec!["period".to_string(), "as of".into(), "people".into()];
        header.extend(first.shares.iter().map(|s| s.segment.clone()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = b
            .segment_history
            .iter()
            .map(|p| {
                let mut row = vec![p.period.to_string(), p.as_of_date.to_string(), thousands(p.persons)];
                row.extend(p.shares.iter().map(|s| percent(s.share)));
                row
            })
            .collect();
        print!("{}", table(&header, &rows));
    }
    if !b.segments.is_empty() {
        println!("\nsegments (last `cohort compute`):");
        let rows: Vec<Vec<String>> = b
            .segments
            .iter()
            .map(|s| vec![s.dimension.clone(), s.segment.clone(), thousands(s.persons), percent(s.share)])
            .collect();
        print!("{}", table(&["dimension", "segment", "people", "share"], &rows));
    }
}

/// `cohort kpi`.
pub fn kpi(ctx: &Context, args: KpiArgs) -> anyhow::Result<()> {
    let spec = match args.common.read_spec()? {
        Some(spec) => spec,
        None => KpiSpec {
            range: args.common.range(),
            period: args.period,
            history_periods: args.history,
            ..KpiSpec::default()
        },
    };
    let analytics = Analytics::new(&ctx.store, ctx.shop).with_segments(ctx.config.segments.clone());
    let board = analytics.kpi(&spec, &ctx.config.kpi)?;
    if args.common.json {
        print_json(&board)
    } else {
        print_board(&board);
        Ok(())
    }
}

/// Arguments of `cohort paths`.
#[derive(Debug, clap::Args)]
pub struct PathsArgs {
    /// Paths starting at each person's first occurrence of this event.
    #[arg(long, value_name = "EVENT", conflicts_with = "before")]
    pub after: Option<String>,
    /// Paths ending at each person's first occurrence of this event.
    #[arg(long, value_name = "EVENT")]
    pub before: Option<String>,
    /// Events per path, the anchor included.
    #[arg(long, default_value_t = 4)]
    pub length: usize,
    /// How many paths to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Keep repeats of the same event in a row.
    #[arg(long)]
    pub keep_repeats: bool,
    #[command(flatten)]
    pub common: Common,
}

/// `cohort paths`.
pub fn paths(ctx: &Context, args: PathsArgs) -> anyhow::Result<()> {
    let spec = match args.common.read_spec()? {
        Some(spec) => spec,
        None => {
            let parse =
                |e: &Option<String>| e.as_deref().map(EventMatch::parse).transpose().map_err(anyhow::Error::msg);
            PathSpec {
                start: parse(&args.after)?,
                end: parse(&args.before)?,
                length: args.length,
                top: args.top,
                collapse_repeats: !args.keep_repeats,
                range: args.common.range(),
            }
        }
    };
    let r = Analytics::new(&ctx.store, ctx.shop).paths(&spec)?;
    if args.common.json {
        return print_json(&r);
    }
    println!(
        "top paths {} {} ({} people):",
        if r.anchor == "start" { "after" } else { "before" },
        r.event,
        thousands(r.persons)
    );
    let rows: Vec<Vec<String>> = r
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| vec![(i + 1).to_string(), p.events.join(" → "), thousands(p.persons), percent(p.share)])
        .collect();
    print!("{}", table(&["#", "path", "people", "share"], &rows));
    Ok(())
}
