//! Running specs on the embedded store: validate, compile with the DuckDB
//! dialect, execute, assemble the serde-ready result.

use chrono::{DateTime, NaiveDate, Utc};
use cohort_duckdb::DuckDbStore;
use cohort_insight::InsightConfig;
use cohort_model::ShopTime;
use duckdb::Connection;

use crate::cac::CacPeriodRow;
use crate::dialect::{Dialect, DuckDb};
use crate::error::Result;
use crate::funnel::compile::FunnelBounds;
use crate::funnel::engine::{FunnelEngine, Plan};
use crate::funnel::{FunnelResult, FunnelSpec};
use crate::kpi::{kpi, ratio, CacRow, Kpi, KpiBoard, KpiSpec, KpiTargets, KpiUnit, LtvRow, SegmentShare, LTV_DAYS};
use crate::lifecycle::{LifecycleResult, LifecycleSpec};
use crate::paths::{PathResult, PathSpec};
use crate::retention::{RetentionResult, RetentionSpec};
use crate::segment_history::SegmentPeriod;
use crate::spec::EventCatalogue;
use crate::spend::{SpendImport, SpendRow};
use crate::zone::ZoneOffsets;

/// The analytics engine on a [`DuckDbStore`].
pub struct Analytics<'a> {
    store: &'a DuckDbStore,
    shop: ShopTime,
    dialect: DuckDb,
    segments: InsightConfig,
}

/// Earliest and latest instant in the store (events, orders, registrations).
pub(crate) type DataRange = Option<(DateTime<Utc>, DateTime<Utc>)>;

impl<'a> Analytics<'a> {
    /// The engine for `store`, counting days in `shop`'s time zone.
    pub fn new(store: &'a DuckDbStore, shop: ShopTime) -> Self {
        Analytics { store, shop, dialect: DuckDb, segments: InsightConfig::default() }
    }

    /// Uses `segments` (`[segments]` of `cohort.toml`) for the value tiers
    /// and lifecycle stages of the KPI board's segment history (default:
    /// the business plan's thresholds).
    pub fn with_segments(mut self, segments: InsightConfig) -> Self {
        self.segments = segments;
        self
    }

    /// The shop's time.
    pub fn shop(&self) -> ShopTime {
        self.shop
    }

    /// The dialect specs compile to.
    pub fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    pub(crate) fn conn(&self) -> Result<Connection> {
        Ok(self.store.connection()?)
    }

    /// The event names specs may use (built-in names and those stored).
    pub fn catalogue(&self) -> Result<EventCatalogue> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT DISTINCT event FROM events")?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(EventCatalogue::new(names))
    }

    /// The catalogue for a spec naming `names` (stored spellings): the
    /// built-in names need no query; any other name is looked up with one
    /// filtered scan instead of listing every stored name.
    pub(crate) fn catalogue_for(&self, names: impl IntoIterator<Item = String>) -> Result<EventCatalogue> {
        let builtin = EventCatalogue::new(Vec::new());
        let mut custom: Vec<String> = names.into_iter().filter(|n| !builtin.contains(n)).collect();
        custom.sort();
        custom.dedup();
        if custom.is_empty() {
            return Ok(builtin);
        }
        let list: Vec<String> = custom.iter().map(|n| self.dialect.string(n)).collect();
        let sql = format!("SELECT DISTINCT event FROM events WHERE event IN ({})", list.join(", "));
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(EventCatalogue::new(names))
    }

    /// Earliest and latest event, order or registration.
    pub(crate) fn data_range(&self) -> Result<DataRange> {
        let conn = self.conn()?;
        let sql = "SELECT epoch_ms(min(lo)), epoch_ms(max(hi)) FROM (
                     SELECT min(ts) AS lo, max(ts) AS hi FROM events
                     UNION ALL SELECT min(placed_at), max(placed_at) FROM orders
                     UNION ALL SELECT min(registered_at), max(registered_at) FROM users)";
        let (lo, hi): (Option<i64>, Option<i64>) = conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(lo
            .zip(hi)
            .and_then(|(lo, hi)| Some((DateTime::from_timestamp_millis(lo)?, DateTime::from_timestamp_millis(hi)?))))
    }

    /// The latest event or order: the default "as of" of cohort analyses.
    pub(crate) fn latest_activity(&self) -> Result<Option<DateTime<Utc>>> {
        let conn = self.conn()?;
        let sql = "SELECT epoch_ms(max(hi)) FROM (SELECT max(ts) AS hi FROM events UNION ALL SELECT max(placed_at) FROM orders)";
        let hi: Option<i64> = conn.query_row(sql, [], |r| r.get(0))?;
        Ok(hi.and_then(DateTime::from_timestamp_millis))
    }

    /// The zone offsets over the data (and `extra` instants).
    pub(crate) fn zone(&self, range: DataRange, extra: &[DateTime<Utc>]) -> ZoneOffsets {
        let mut lo = range.map(|r| r.0);
        let mut hi = range.map(|r| r.1);
        for &at in extra {
            lo = Some(lo.map_or(at, |l| l.min(at)));
            hi = Some(hi.map_or(at, |h| h.max(at)));
        }
        match lo.zip(hi) {
            Some((lo, hi)) => ZoneOffsets::between(&self.shop, lo, hi),
            None => ZoneOffsets::between(&self.shop, Utc::now(), Utc::now()),
        }
    }

    /// Runs a funnel.
    pub fn funnel(&self, spec: &FunnelSpec) -> Result<FunnelResult> {
        let names = spec.steps.iter().map(|s| s.event_match()).chain(spec.exclusions.iter().map(|x| x.event_match()));
        spec.validate(&self.catalogue_for(names.map(|m| m.stored_name()))?)?;
        let bounds = FunnelBounds::of(spec, &self.shop);
        let sql = crate::funnel::compile::compile(spec, &bounds, &self.dialect);
        tracing::debug!(%sql, "funnel");
        let plan = Plan::new(
            spec,
            bounds.start_from.map(|t| t.timestamp_millis()),
            bounds.start_until.map(|t| t.timestamp_millis()),
        );
        let mut engine = FunnelEngine::new(spec, plan);
        crate::funnel::scan::run(&self.conn()?, &sql, &mut engine)?;
        Ok(engine.finish(spec))
    }

    /// Runs a retention grid.
    pub fn retention(&self, spec: &RetentionSpec) -> Result<RetentionResult> {
        spec.validate(&self.catalogue()?)?;
        let as_of = match spec.as_of {
            Some(at) => Some(at),
            None => self.latest_activity()?,
        };
        let Some(as_of) = as_of else {
            return Ok(crate::retention::assemble(spec, None, None, Vec::new()));
        };
        let zone = self.zone(self.data_range()?, &[as_of]);
        let sql = crate::retention::compile(spec, as_of, &zone, &self.dialect);
        tracing::debug!(%sql, "retention");
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = rows.into_iter().map(|(c, k, n)| Ok((parse_date(&c)?, k, n as u64))).collect::<Result<Vec<_>>>()?;
        Ok(crate::retention::assemble(spec, Some(as_of), Some(self.shop.date(as_of)), rows))
    }

    /// Lifecycle movement (new / returning / resurrected / dormant) per period.
    pub fn lifecycle(&self, spec: &LifecycleSpec) -> Result<LifecycleResult> {
        spec.validate(&self.catalogue()?)?;
        let as_of = match spec.as_of {
            Some(at) => Some(at),
            None => self.latest_activity()?,
        };
        let Some(as_of) = as_of else {
            return Ok(crate::lifecycle::assemble(spec, None, None, Vec::new()));
        };
        let as_of_date = self.shop.date(as_of);
        let zone = self.zone(self.data_range()?, &[as_of]);
        let sql = crate::lifecycle::compile(spec, as_of, as_of_date, &zone, &self.dialect);
        tracing::debug!(%sql, "lifecycle");
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u64)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::lifecycle::assemble(spec, Some(as_of), Some(as_of_date), rows))
    }

    /// Runs a path analysis.
    pub fn paths(&self, spec: &PathSpec) -> Result<PathResult> {
        spec.validate(&self.catalogue()?)?;
        let d = &self.dialect;
        let from = spec.range.from.map(|f| d.timestamp(self.shop.start_of_day(f)));
        let until = spec.range.to.map(|t| d.timestamp(self.shop.start_of_day(t + chrono::Days::new(1))));
        let sql = crate::paths::compile(spec, (from, until), d);
        tracing::debug!(%sql, "paths");
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::paths::assemble(spec, rows))
    }

    /// Computes the KPI board, each KPI against `targets`.
    pub fn kpi(&self, spec: &KpiSpec, targets: &KpiTargets) -> Result<KpiBoard> {
        spec.validate()?;
        targets.validate()?;
        let as_of = match spec.as_of {
            Some(at) => at,
            None => self.latest_activity()?.unwrap_or_else(Utc::now),
        };
        let (from, to) = crate::kpi::resolve_range(spec, self.shop.date(as_of));
        let zone = self.zone(self.data_range()?, &[as_of, self.shop.start_of_day(from)]);
        let q = crate::kpi::compile(from, to, as_of, &self.shop, &zone, &self.dialect);
        let conn = self.conn()?;
        let ints = |sql: &str, n: usize| -> Result<Vec<i64>> {
            tracing::debug!(%sql, "kpi");
            Ok(conn.query_row(sql, [], |r| (0..n).map(|i| Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0))).collect())?)
        };
        let a = ints(&q.activity, 4)?;
        let r = ints(&q.registrations, 2)?;
        let o = ints(&q.orders, 5)?;
        let n = ints(&q.new_customers, 6)?;
        let days = (to - from).num_days() + 1;
        let (active, dau_sum, wau, mau) = (a[0], a[1], a[2], a[3]);
        let (orders, gmv, buyers, person_gmv, repeat) = (o[0], o[1], o[2], o[3], o[4]);
        let f = |v: i64| Some(v as f64);
        let kpis = vec![
            kpi("dau", "DAU (average over the range)", Some(dau_sum as f64 / days as f64), KpiUnit::People),
            kpi("wau", "WAU (7 days to the range end)", f(wau), KpiUnit::People),
            kpi("mau", "MAU (30 days to the range end)", f(mau), KpiUnit::People),
            kpi("active_users", "active users in the range", f(active), KpiUnit::People),
            kpi("new_registrations", "new registrations", f(r[0]), KpiUnit::People),
            kpi("effective_registration_rate", "registrations with a first order", ratio(r[1], r[0]), KpiUnit::Ratio)
                .note(format!("{} of {} registered", r[1], r[0])),
            kpi("orders", "orders", f(orders), KpiUnit::Orders),
            kpi("gmv_fen", "GMV", f(gmv), KpiUnit::Fen),
            kpi("aov_fen", "AOV", ratio(gmv, orders), KpiUnit::Fen),
            kpi("buyers", "buyers", f(buyers), KpiUnit::People),
            kpi("arpu_fen", "ARPU (GMV per active user)", ratio(person_gmv, active), KpiUnit::Fen),
            kpi("repurchase_rate", "buyers with 2+ orders in the range", ratio(repeat, buyers), KpiUnit::Ratio)
                .note(format!("{repeat} of {buyers} buyers")),
            kpi("new_customers", "new customers (first order in the range)", f(n[0]), KpiUnit::People),
            kpi("first_order_aov_fen", "first-order AOV", ratio(n[1], n[0]), KpiUnit::Fen),
            kpi("repurchase_7d", "7-day repurchase of new customers", ratio(n[3], n[2]), KpiUnit::Ratio)
                .at_least(targets.repurchase_7d_min)
                .note(format!("{} of {} new customers with 7 days observed", n[3], n[2])),
            kpi("retention_30d", "30-day retention of new customers", ratio(n[5], n[4]), KpiUnit::Ratio)
                .at_least(targets.retention_30d_min)
                .note(format!("{} of {} new customers with 30 days observed", n[5], n[4])),
        ];
        let cac_sql = crate::cac::compile(from, to, as_of, spec.period, &self.shop, &zone, &self.dialect);
        let (cac, cac_by_period) = self.cac(&conn, &cac_sql, targets)?;
        let kpis = {
            let mut kpis = kpis;
            let spend: i64 = cac.iter().map(|c| c.spend_fen).sum();
            let blended = kpi("cac_fen", "CAC (spend / new customers)", None, KpiUnit::Fen);
            kpis.push(if spend == 0 {
                blended.at_most(targets.cac_max_fen as f64).note("no marketing spend imported for the range")
            } else {
                let value = ratio(spend, n[0]);
                Kpi { value, ..blended }
                    .at_most(targets.cac_max_fen as f64)
                    .note(format!("{spend} fen spent, {} new customers", n[0]))
            });
            let ctr = crate::ctr::compile(from, to, as_of, &self.shop, &self.dialect);
            kpis.extend(crate::ctr::board(&conn, &ctr, targets.recommendation_ctr_min)?);
            kpis
        };
        let mut stmt = conn.prepare(&q.ltv)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    [r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?],
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut ltv = Vec::new();
        for (cohort, persons, sums, latest) in rows {
            let observed = |days: u32| latest + i64::from(days) * 86_400_000 <= as_of.timestamp_millis();
            ltv.push(LtvRow {
                cohort: parse_date(&cohort)?,
                persons: persons as u64,
                ltv_fen: [0, 1, 2].map(|i| observed(LTV_DAYS[i]).then(|| sums[i] as f64 / persons as f64)),
            });
        }
        let (segments, segments_as_of) = self.segment_shares(&conn)?;
        let segment_history = self.segment_history(&conn, spec, to, as_of, &zone)?;
        Ok(KpiBoard {
            from,
            to,
            as_of,
            kpis,
            ltv,
            segments,
            segments_as_of,
            cac,
            period: spec.period,
            cac_by_period,
            segment_history,
        })
    }

    /// Value tiers and lifecycle stages at the end of each period.
    fn segment_history(
        &self,
        conn: &Connection,
        spec: &KpiSpec,
        to: NaiveDate,
        as_of: DateTime<Utc>,
        zone: &ZoneOffsets,
    ) -> Result<Vec<SegmentPeriod>> {
        let ends = crate::segment_history::periods(spec.period, to, spec.history_periods, self.shop.date(as_of));
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        let (value, lifecycle) = (&self.segments.value, &self.segments.lifecycle);
        let sql = crate::segment_history::compile(&ends, spec.period, as_of, value, lifecycle, zone, &self.dialect);
        tracing::debug!(%sql, "segment history");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = rows
            .into_iter()
            .map(|(p, dim, seg, n)| Ok((parse_date(&p)?, dim, seg, n as u64)))
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::segment_history::assemble(&ends, &rows))
    }

    /// CAC per channel over the range and per period and channel (no rows
    /// without imported spend in the range).
    fn cac(&self, conn: &Connection, sql: &str, targets: &KpiTargets) -> Result<(Vec<CacRow>, Vec<CacPeriodRow>)> {
        tracing::debug!(%sql, "cac");
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if rows.iter().all(|r| r.2 == 0) {
            return Ok((Vec::new(), Vec::new()));
        }
        let cac = |spend_fen: i64, n: i64| {
            let cac_fen = ratio(spend_fen, n);
            (cac_fen, cac_fen.map(|c| c <= targets.cac_max_fen as f64))
        };
        let mut totals: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        let mut by_period = Vec::new();
        for (period, channel, spend_fen, n) in rows {
            let total = totals.entry(channel.clone()).or_default();
            total.0 += spend_fen;
            total.1 += n;
            let (cac_fen, met) = cac(spend_fen, n);
            by_period.push(CacPeriodRow {
                period: parse_date(&period)?,
                channel,
                spend_fen,
                new_customers: n as u64,
                cac_fen,
                met,
            });
        }
        let totals = totals
            .into_iter()
            .map(|(channel, (spend_fen, n))| {
                let (cac_fen, met) = cac(spend_fen, n);
                CacRow { channel, spend_fen, new_customers: n as u64, cac_fen, met }
            })
            .collect();
        Ok((totals, by_period))
    }

    /// Stores marketing spend rows (`marketing_spend`), replacing any stored
    /// row of the same day and channel, in one transaction.
    pub fn import_spend(&self, rows: &[SpendRow]) -> Result<SpendImport> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO marketing_spend (day, channel, spend_fen) VALUES (CAST(? AS DATE), ?, ?)",
            )?;
            for row in rows {
                stmt.execute(duckdb::params![row.day.to_string(), row.channel, row.spend_fen])?;
            }
        }
        tx.commit()?;
        let mut channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
        channels.sort_unstable();
        channels.dedup();
        Ok(SpendImport {
            rows: rows.len() as u64,
            channels: channels.len() as u64,
            spend_fen: rows.iter().map(|r| r.spend_fen).sum(),
            first_day: rows.iter().map(|r| r.day).min(),
            last_day: rows.iter().map(|r| r.day).max(),
        })
    }

    fn segment_shares(&self, conn: &Connection) -> Result<(Vec<SegmentShare>, Option<DateTime<Utc>>)> {
        let sql = "SELECT 'value_tier', value_tier, count(*) FROM profiles GROUP BY value_tier
                   UNION ALL SELECT 'lifecycle', lifecycle, count(*) FROM profiles GROUP BY lifecycle
                   ORDER BY 1 DESC, 3 DESC, 2";
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let total: i64 = conn.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))?;
        let as_of: Option<i64> = conn.query_row("SELECT epoch_ms(max(as_of)) FROM profiles", [], |r| r.get(0))?;
        let shares = rows
            .into_iter()
            .map(|(dimension, segment, n)| SegmentShare {
                dimension,
                segment,
                persons: n as u64,
                share: ratio(n, total).unwrap_or(0.0),
            })
            .collect();
        Ok((shares, as_of.and_then(DateTime::from_timestamp_millis)))
    }
}

pub(crate) fn parse_date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| crate::AnalyticsError::Query(format!("bad date {text:?}: {e}")))
}
