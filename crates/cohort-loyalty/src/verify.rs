//! `cohort points verify`: recomputes everything derivable from the
//! append-only records and reports every disagreement.
//!
//! Checks: the entries of every operation sum to zero; every member's
//! cached balances equal the ledger sums and are in range (available ≥ 0,
//! debt ≤ 0); every lot's remaining equals its points less its moves, and a
//! member's lots add up to their available balance; for every operation, the
//! lots it opened less the lots it drained equal its net movement on the
//! member's available account; replaying the lot moves in operation order
//! confirms first-expiring-first consumption (and that expiries only took
//! due lots, whole); coupon template counters equal their coupons, and no
//! cap, budget or single use was exceeded.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;

use crate::{Account, LoyaltyError};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// Most problems listed one by one; the count covers all.
const MAX_LISTED: usize = 100;

/// What [`crate::Loyalty::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Operations checked.
    pub operations: u64,
    /// Ledger entries checked.
    pub entries: u64,
    /// Members checked.
    pub members: u64,
    /// Points lots checked.
    pub lots: u64,
    /// Coupons checked.
    pub coupons: u64,
    /// How many problems were found.
    pub problem_count: u64,
    /// The first problems found, described.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether everything agreed.
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }
}

/// One member's lot activity: operation -> (moves as (lot, points), lots opened).
type Timeline = BTreeMap<i64, (Vec<(i64, i64)>, Vec<i64>)>;

struct Lot {
    user: String,
    op: i64,
    points: i64,
    remaining: i64,
    expires: i64,
}

/// Runs every check on one consistent snapshot (the caller's transaction).
pub(crate) async fn verify(conn: &mut AnyConnection) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    check_ledger(conn, &mut report).await?;
    check_coupons(conn, &mut report).await?;
    Ok(report)
}

async fn check_ledger(conn: &mut AnyConnection, report: &mut VerifyReport) -> Result<()> {
    let ops = sqlx::query("SELECT id, kind, at_us, result FROM loyalty_ops ORDER BY id").fetch_all(&mut *conn).await?;
    let mut op_info: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    for r in &ops {
        let (id, kind, at, result): (i64, String, i64, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        if result.is_empty() {
            report.problem(format!("operation {id} ({kind}) has no stored result"));
        }
        op_info.insert(id, (kind, at));
    }
    report.operations = op_info.len() as u64;

    // Entries: balanced per operation; sums per account; per (op, member) net available.
    let entries =
        sqlx::query("SELECT op_id, account, amount FROM loyalty_entries ORDER BY id").fetch_all(&mut *conn).await?;
    report.entries = entries.len() as u64;
    let mut op_sum: BTreeMap<i64, i64> = BTreeMap::new();
    let mut account_sum: HashMap<String, i64> = HashMap::new();
    let mut op_available: HashMap<(i64, String), i64> = HashMap::new();
    for r in &entries {
        let (op, account, amount): (i64, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        *op_sum.entry(op).or_default() += amount;
        if let Ok(Account::MemberAvailable(u)) = account.parse::<Account>() {
            *op_available.entry((op, u.into_string())).or_default() += amount;
        } else if account.parse::<Account>().is_err() {
            report.problem(format!("entry of operation {op} names unknown account {account:?}"));
        }
        *account_sum.entry(account).or_default() += amount;
        if !op_info.contains_key(&op) {
            report.problem(format!("entry references missing operation {op}"));
        }
    }
    for (op, sum) in &op_sum {
        if *sum != 0 {
            report.problem(format!("operation {op} is unbalanced: its entries sum to {sum}"));
        }
    }

    // Members: cached balances equal the ledger and stay in range.
    let members = sqlx::query("SELECT user_id, available, debt, next_expiry_us FROM loyalty_members")
        .fetch_all(&mut *conn)
        .await?;
    report.members = members.len() as u64;
    let mut cached_available: HashMap<String, i64> = HashMap::new();
    let mut next_expiry: HashMap<String, Option<i64>> = HashMap::new();
    for r in &members {
        let (user, available, debt): (String, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let ledger_available = account_sum.remove(&format!("member:{user}:available")).unwrap_or(0);
        let ledger_debt = account_sum.remove(&format!("member:{user}:debt")).unwrap_or(0);
        if ledger_available != available {
            report.problem(format!("member {user}: cached available {available} but ledger says {ledger_available}"));
        }
        if ledger_debt != debt {
            report.problem(format!("member {user}: cached debt {debt} but ledger says {ledger_debt}"));
        }
        if ledger_available < 0 || available < 0 {
            report.problem(format!("member {user}: negative available balance {ledger_available}"));
        }
        if ledger_debt > 0 {
            report.problem(format!("member {user}: positive debt balance {ledger_debt}"));
        }
        next_expiry.insert(user.clone(), r.try_get::<Option<i64>, _>(3)?);
        cached_available.insert(user, available);
    }
    for (account, sum) in &account_sum {
        if account.starts_with("member:") && *sum != 0 {
            report.problem(format!("account {account} has balance {sum} but no member row"));
        }
    }

    // Lots and their moves.
    let lot_rows = sqlx::query("SELECT id, user_id, op_id, points, remaining, expires_at_us FROM loyalty_lots")
        .fetch_all(&mut *conn)
        .await?;
    report.lots = lot_rows.len() as u64;
    let mut lots: BTreeMap<i64, Lot> = BTreeMap::new();
    for r in &lot_rows {
        let lot = Lot {
            user: r.try_get(1)?,
            op: r.try_get(2)?,
            points: r.try_get(3)?,
            remaining: r.try_get(4)?,
            expires: r.try_get(5)?,
        };
        lots.insert(r.try_get(0)?, lot);
    }
    let move_rows =
        sqlx::query("SELECT op_id, lot_id, points FROM loyalty_lot_moves ORDER BY id").fetch_all(&mut *conn).await?;
    let mut moves: Vec<(i64, i64, i64)> = Vec::with_capacity(move_rows.len());
    for r in &move_rows {
        moves.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    check_lots(report, &op_info, &lots, &moves, &op_available, &cached_available);
    let mut earliest: HashMap<&str, i64> = HashMap::new();
    for lot in lots.values().filter(|l| l.remaining > 0) {
        let e = earliest.entry(&lot.user).or_insert(lot.expires);
        *e = (*e).min(lot.expires);
    }
    for (user, expires) in earliest {
        let cached = next_expiry.get(user).copied().flatten();
        if cached.is_none_or(|c| c > expires) {
            report.problem(format!("member {user}: next expiry {cached:?} is later than open lot expiry {expires}"));
        }
    }
    Ok(())
}

fn check_lots(
    report: &mut VerifyReport,
    ops: &BTreeMap<i64, (String, i64)>,
    lots: &BTreeMap<i64, Lot>,
    moves: &[(i64, i64, i64)],
    op_available: &HashMap<(i64, String), i64>,
    cached_available: &HashMap<String, i64>,
) {
    let mut drained: HashMap<i64, i64> = HashMap::new();
    let mut net: HashMap<(i64, String), i64> = HashMap::new();
    // Per member: op -> (moves, lots opened), for the replay.
    let mut timeline: HashMap<&str, Timeline> = HashMap::new();
    for (id, lot) in lots {
        *net.entry((lot.op, lot.user.clone())).or_default() += lot.points;
        timeline.entry(&lot.user).or_default().entry(lot.op).or_default().1.push(*id);
    }
    for &(op, lot_id, points) in moves {
        let Some(lot) = lots.get(&lot_id) else {
            report.problem(format!("operation {op} moved points from missing lot {lot_id}"));
            continue;
        };
        *drained.entry(lot_id).or_default() += points;
        *net.entry((op, lot.user.clone())).or_default() -= points;
        timeline.entry(&lot.user).or_default().entry(op).or_default().0.push((lot_id, points));
    }
    let mut lot_total: HashMap<&str, i64> = HashMap::new();
    for (id, lot) in lots {
        let expected = lot.points - drained.get(id).copied().unwrap_or(0);
        if lot.remaining != expected || !(0..=lot.points).contains(&lot.remaining) {
            report.problem(format!(
                "lot {id} of member {}: remaining {} but points {} less moves give {expected}",
                lot.user, lot.remaining, lot.points
            ));
        }
        *lot_total.entry(&lot.user).or_default() += lot.remaining;
    }
    for (user, available) in cached_available {
        let in_lots = lot_total.get(user.as_str()).copied().unwrap_or(0);
        if in_lots != *available {
            report.problem(format!("member {user}: lots hold {in_lots} but available is {available}"));
        }
    }
    for (key, amount) in op_available {
        if net.get(key).copied().unwrap_or(0) != *amount {
            report.problem(format!(
                "operation {} moved {amount} on member {}'s available account but {} through lots",
                key.0,
                key.1,
                net.get(key).copied().unwrap_or(0)
            ));
        }
    }
    for (key, amount) in &net {
        if *amount != 0 && !op_available.contains_key(key) {
            report.problem(format!("operation {} moved {amount} through lots of {} without entries", key.0, key.1));
        }
    }
    for (user, timeline) in &timeline {
        replay_fifo(report, user, ops, lots, timeline);
    }
}

/// Replays one member's lot moves in operation order and checks each debit
/// drained the first-expiring open lots, and each expiry only whole due lots.
fn replay_fifo(
    report: &mut VerifyReport,
    user: &str,
    ops: &BTreeMap<i64, (String, i64)>,
    lots: &BTreeMap<i64, Lot>,
    timeline: &Timeline,
) {
    let mut open: BTreeMap<(i64, i64), i64> = BTreeMap::new(); // (expires, id) -> remaining
    for (op, (moved, opened)) in timeline {
        let Some((kind, at)) = ops.get(op) else {
            report.problem(format!("lots of member {user} reference missing operation {op}"));
            continue;
        };
        let mut taken: Vec<(i64, i64, i64)> = moved.iter().map(|(id, p)| (lots[id].expires, *id, *p)).collect();
        taken.sort();
        if kind == "expire" {
            for &(expires, id, p) in &taken {
                let before = open.remove(&(expires, id)).unwrap_or(0);
                if expires > *at || p != before {
                    report.problem(format!(
                        "operation {op} expired {p} of lot {id} (member {user}) holding {before}, due at {expires}, at {at}"
                    ));
                }
            }
        } else {
            let candidates: Vec<((i64, i64), i64)> = open.iter().take(taken.len()).map(|(k, v)| (*k, *v)).collect();
            for (i, &(expires, id, p)) in taken.iter().enumerate() {
                let fifo = candidates.get(i).is_some_and(|&((e, cid), rem)| {
                    e == expires && cid == id && (p == rem || (i + 1 == taken.len() && p < rem))
                });
                if !fifo || expires <= *at {
                    report.problem(format!(
                        "operation {op} ({kind}) took {p} from lot {id} of member {user} out of first-expiring order"
                    ));
                }
                if let Some(rem) = open.get_mut(&(expires, id)) {
                    *rem -= p;
                    if *rem <= 0 {
                        open.remove(&(expires, id));
                    }
                }
            }
        }
        for id in opened {
            open.insert((lots[id].expires, *id), lots[id].points);
        }
    }
}

async fn check_coupons(conn: &mut AnyConnection, report: &mut VerifyReport) -> Result<()> {
    let rows = sqlx::query(
        "SELECT t.id, t.issued_count, t.quantity_cap, t.budget_fen, t.reserved_fen, t.spent_fen, \
         (SELECT COUNT(*) FROM loyalty_coupons c WHERE c.template_id = t.id), \
         (SELECT CAST(COALESCE(SUM(c.face_fen), 0) AS BIGINT) FROM loyalty_coupons c \
          WHERE c.template_id = t.id AND c.state IN ('available', 'locked')), \
         (SELECT CAST(COALESCE(SUM(c.discount_fen), 0) AS BIGINT) FROM loyalty_coupons c \
          WHERE c.template_id = t.id AND c.state = 'redeemed') \
         FROM loyalty_coupon_templates t",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let id: String = r.try_get(0)?;
        let (issued, cap, budget): (i64, Option<i64>, Option<i64>) = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let (reserved, spent, count, face, discount): (i64, i64, i64, i64, i64) =
            (r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?);
        if issued != count {
            report.problem(format!("template {id}: issued_count {issued} but {count} coupons"));
        }
        if cap.is_some_and(|c| count > c) {
            report.problem(format!("template {id}: {count} coupons exceed the cap {cap:?}"));
        }
        if reserved != face || spent != discount {
            report.problem(format!(
                "template {id}: reserved {reserved} / spent {spent} but coupons give {face} / {discount}"
            ));
        }
        if budget.is_some_and(|b| face + discount > b) {
            report.problem(format!("template {id}: committed {} exceeds the budget {budget:?}", face + discount));
        }
    }
    let coupons = sqlx::query(
        "SELECT c.id, c.state, c.order_id, \
         (SELECT COUNT(*) FROM loyalty_coupon_events e WHERE e.coupon_id = c.id AND e.to_state = 'redeemed'), \
         (SELECT e.to_state FROM loyalty_coupon_events e WHERE e.coupon_id = c.id ORDER BY e.id DESC LIMIT 1) \
         FROM loyalty_coupons c",
    )
    .fetch_all(&mut *conn)
    .await?;
    report.coupons = coupons.len() as u64;
    for r in &coupons {
        let (id, state, order): (i64, String, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let (redeemed, last): (i64, Option<String>) = (r.try_get(3)?, r.try_get(4)?);
        if redeemed > 1 {
            report.problem(format!("coupon {id} was redeemed {redeemed} times"));
        }
        if last.as_deref() != Some(state.as_str()) {
            report.problem(format!("coupon {id} is {state} but its last event says {last:?}"));
        }
        if matches!(state.as_str(), "locked" | "redeemed") != order.is_some() {
            report.problem(format!("coupon {id} is {state} with order {order:?}"));
        }
    }
    Ok(())
}
