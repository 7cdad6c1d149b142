//! 50 concurrent tasks, 10,000 random earn / redeem / refund / coupon
//! operations with retries, concurrent duplicates and reused keys. Afterwards
//! the store verifies, every acknowledged operation is counted exactly once
//! in the ledger totals, no balance is negative, no coupon was redeemed
//! twice and no cap or budget was exceeded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cohort_loyalty::{
    Activity, Checkout, CouponId, Loyalty, LoyaltyConfig, LoyaltyError, Offer, Points, Redemption, TemplateId,
};
use cohort_model::{Money, OrderId, UserId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::Row;

use crate::common::*;
use crate::coupons::{checkout, template};

const TASKS: usize = 50;
const OPS_PER_TASK: usize = 200;
const USERS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Activity(UserId, Activity),
    Redeem(UserId, Points, Redemption),
    Refund(UserId, OrderId, Money),
    Issue(UserId, TemplateId),
    Lock(UserId, Checkout, Vec<CouponId>),
    RedeemCoupons(UserId, OrderId),
    Release(UserId, OrderId),
}

/// What an acknowledged operation returned, in comparable form, plus the
/// points it moved: (issued, redeemed, restored, clawed back).
#[derive(Debug, Clone, PartialEq)]
struct Ack {
    text: String,
    points: (i64, i64, i64, i64),
}

async fn send(l: &Loyalty, key: &str, req: &Req) -> Result<Ack, LoyaltyError> {
    let k = crate::common::key(key);
    let ack = |text: String, points| Ack { text, points };
    Ok(match req {
        Req::Activity(u, a) => {
            let r = l.record_activity(&k, u, a.clone()).await?;
            ack(format!("{r:?}"), (r.points.get(), 0, 0, 0))
        }
        Req::Redeem(u, p, how) => {
            let r = l.redeem(&k, u, *p, how.clone()).await?;
            ack(format!("{r:?}"), (0, r.points.get(), 0, 0))
        }
        Req::Refund(u, o, m) => {
            let r = l.refund(&k, u, o, *m).await?;
            ack(format!("{r:?}"), (0, 0, r.restored.get(), r.clawed_back.get()))
        }
        Req::Issue(u, t) => ack(format!("{:?}", l.issue_coupon(&k, u, t).await?), (0, 0, 0, 0)),
        Req::Lock(u, c, ids) => ack(format!("{:?}", l.lock_coupons(&k, u, c, ids).await?), (0, 0, 0, 0)),
        Req::RedeemCoupons(u, o) => ack(format!("{:?}", l.redeem_coupons(&k, u, o).await?), (0, 0, 0, 0)),
        Req::Release(u, o) => ack(format!("{:?}", l.release_coupons(&k, u, o).await?), (0, 0, 0, 0)),
    })
}

/// Sends with retries on internal faults (the same key makes them safe).
async fn send_retrying(l: &Loyalty, key: &str, req: &Req) -> Result<Ack, LoyaltyError> {
    let mut attempt = 0;
    loop {
        match send(l, key, req).await {
            Err(e) if !e.is_user_error() && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

#[derive(Default)]
struct Shared {
    acks: HashMap<String, (Req, Ack)>,
    coupons: Vec<(CouponId, UserId)>,
}

async fn worker(l: Arc<Loyalty>, shared: Arc<Mutex<Shared>>, task: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(task as u64);
    let mut paid: Vec<(UserId, OrderId, i64, i64)> = Vec::new(); // user, order, paid fen, refunded fen
    let mut locked: Vec<(UserId, OrderId)> = Vec::new();
    let mut pending: Vec<(UserId, OrderId, i64, i64)> = Vec::new(); // redeemed on, not yet paid
    for n in 0..OPS_PER_TASK {
        let u = user(&format!("m{}", rng.random_range(0..USERS)));
        let roll = rng.random_range(0..100);
        let key = format!("t{task}-{n}");
        let req = match roll {
            0..=24 if !pending.is_empty() && rng.random_bool(0.5) => {
                let (u, o, amount, discount) = pending.swap_remove(rng.random_range(0..pending.len()));
                Req::Activity(u, Activity::OrderPaid { order: o, paid: fen(amount - discount) })
            }
            0..=24 => {
                let o = order(&format!("t{task}-o{n}"));
                Req::Activity(u, Activity::OrderPaid { order: o, paid: fen(rng.random_range(100..50_000)) })
            }
            33..=38 => {
                let o = order(&format!("t{task}-r{n}"));
                let how = Redemption::Order { order: o, order_amount: fen(rng.random_range(1_000..60_000)) };
                Req::Redeem(u, Points::new(rng.random_range(1..500)), how)
            }
            25..=32 => {
                Req::Activity(u, [Activity::Review, Activity::Share, Activity::CheckIn][rng.random_range(0..3)].clone())
            }
            39..=44 => {
                Req::Redeem(u, Points::new(rng.random_range(1..300)), Redemption::Exchange { item: "gift".into() })
            }
            45..=52 if !paid.is_empty() => {
                let i = rng.random_range(0..paid.len());
                let (u, o, p, r) = paid[i].clone();
                if p == r {
                    continue;
                }
                let amount = if rng.random_bool(0.5) { p - r } else { rng.random_range(1..=p - r) };
                Req::Refund(u, o, fen(amount))
            }
            53..=64 => {
                let t = ["thr", "ship", "pct"][rng.random_range(0..3)];
                Req::Issue(u, TemplateId::new(t).unwrap())
            }
            65..=76 => {
                let pick = {
                    let s = shared.lock().unwrap();
                    (!s.coupons.is_empty()).then(|| s.coupons[rng.random_range(0..s.coupons.len())].clone())
                };
                let Some((id, owner)) = pick else { continue };
                let co = checkout(&format!("t{task}-c{n}"), &[("a", rng.random_range(5_000..40_000))], 800);
                Req::Lock(owner, co, vec![id])
            }
            77..=86 if !locked.is_empty() => {
                let (u, o) = locked.swap_remove(rng.random_range(0..locked.len()));
                if rng.random_bool(0.6) {
                    Req::RedeemCoupons(u, o)
                } else {
                    Req::Release(u, o)
                }
            }
            87..=95 => {
                // Replay an acknowledged request under its key.
                let old = {
                    let s = shared.lock().unwrap();
                    let n = s.acks.len();
                    (n > 0).then(|| s.acks.iter().nth(rng.random_range(0..n)).map(|(k, v)| (k.clone(), v.clone())))
                };
                if let Some(Some((k, (req, ack)))) = old {
                    let again = send_retrying(&l, &k, &req).await.unwrap();
                    assert_eq!(again, ack, "replay of {k} changed its result");
                }
                continue;
            }
            96..=99 => {
                // Reuse a key for a different request.
                let old = shared.lock().unwrap().acks.keys().next().cloned();
                if let Some(k) = old {
                    let other = Req::Activity(user("intruder"), Activity::Review);
                    let e = send_retrying(&l, &k, &other).await.unwrap_err();
                    assert!(matches!(e, LoyaltyError::KeyReused { .. }), "{e}");
                }
                continue;
            }
            _ => continue,
        };
        // Every fifth request is sent twice at once, as a client retry would.
        let result = if n % 5 == 0 {
            let (a, b) = tokio::join!(send_retrying(&l, &key, &req), send_retrying(&l, &key, &req));
            match (a, b) {
                (Ok(x), Ok(y)) => {
                    assert_eq!(x, y, "concurrent duplicates of {key} disagree");
                    Ok(x)
                }
                // A refusal does not take the key, so the twin may succeed
                // once the state changed in between (an earning landed).
                (Ok(x), Err(e)) | (Err(e), Ok(x)) if e.is_user_error() => Ok(x),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        } else {
            send_retrying(&l, &key, &req).await
        };
        let ack = match result {
            Ok(ack) => ack,
            Err(e) if e.is_user_error() => continue,
            Err(e) => panic!("internal fault on {key}: {e}"),
        };
        match &req {
            Req::Activity(u, Activity::OrderPaid { order, paid: p }) => {
                paid.push((u.clone(), order.clone(), p.fen(), 0))
            }
            Req::Redeem(u, p, Redemption::Order { order, order_amount }) => {
                pending.push((u.clone(), order.clone(), order_amount.fen(), p.get()))
            }
            Req::Refund(_, o, m) => {
                let row = paid.iter_mut().find(|r| r.1 == *o).unwrap();
                row.3 += m.fen();
            }
            Req::Issue(u, _) => {
                let id: CouponId = CouponId(
                    ack.text.split("id: CouponId(").nth(1).unwrap().split(')').next().unwrap().parse().unwrap(),
                );
                shared.lock().unwrap().coupons.push((id, u.clone()));
            }
            Req::Lock(u, co, _) => locked.push((u.clone(), co.order.clone())),
            _ => {}
        }
        shared.lock().unwrap().acks.insert(key, (req, ack));
    }
}

pub async fn concurrent_random_operations(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = h.loyalty.clone();
    let mut thr = template("thr", Offer::Threshold { min_spend: yuan(199), off: yuan(50) });
    thr.quantity_cap = Some(150);
    thr.per_user_limit = 20;
    let mut ship = template("ship", Offer::FreeShipping { max_off: yuan(8) });
    ship.budget = Some(yuan(600));
    ship.per_user_limit = 50;
    let mut pct =
        template("pct", Offer::Percentage { percent_off: 10, min_spend: Money::ZERO, max_off: Some(yuan(20)) });
    pct.budget = Some(yuan(1_500));
    pct.per_user_limit = 50;
    for t in [thr, ship, pct] {
        l.create_template(t).await.unwrap();
    }
    let shared = Arc::new(Mutex::new(Shared::default()));
    let tasks: Vec<_> = (0..TASKS).map(|t| tokio::spawn(worker(Arc::clone(&l), Arc::clone(&shared), t))).collect();
    for t in tasks {
        t.await.unwrap();
    }
    let report = h.assert_verified().await;
    let (acks, (issued, redeemed, restored, clawed)) = {
        let shared = shared.lock().unwrap();
        let totals = shared.acks.values().fold((0, 0, 0, 0), |acc, (_, a)| {
            (acc.0 + a.points.0, acc.1 + a.points.1, acc.2 + a.points.2, acc.3 + a.points.3)
        });
        (shared.acks.len(), totals)
    };
    eprintln!("concurrency: {acks} acknowledged, {report:?}, issued {issued} redeemed {redeemed} restored {restored} clawed {clawed}");
    assert!(acks > 3_000, "only {acks} operations acknowledged");
    assert!(report.coupons > 100, "{report:?}");

    // Every acknowledged operation is in the ledger exactly once.
    let usage = l.points_usage(shanghai(2000, 1, 1, 0, 0, 0), shanghai(2100, 1, 1, 0, 0, 0)).await.unwrap();
    assert_eq!(usage.issued.get(), issued);
    assert_eq!(usage.redeemed.get(), redeemed - restored);
    assert_eq!(usage.clawed_back.get(), clawed);
    for i in 0..USERS {
        let b = l.balance(&user(&format!("m{i}"))).await.unwrap();
        assert!(b.available.get() >= 0 && b.owed.get() >= 0, "{b:?}");
    }
    let mut conn = l.pool().acquire().await.unwrap();
    let twice: i64 = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT coupon_id FROM loyalty_coupon_events WHERE to_state = 'redeemed' \
         GROUP BY coupon_id HAVING COUNT(*) > 1) x",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(twice, 0, "a coupon was redeemed twice");
    let over: i64 = sqlx::query(
        "SELECT COUNT(*) FROM loyalty_coupon_templates WHERE (budget_fen IS NOT NULL AND reserved_fen + spent_fen > budget_fen) \
         OR (quantity_cap IS NOT NULL AND issued_count > quantity_cap)",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(over, 0, "a cap or budget was exceeded");
    let capped: i64 = sqlx::query("SELECT issued_count FROM loyalty_coupon_templates WHERE id = 'thr'")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(capped, 150, "the quantity cap was reached exactly");
}
