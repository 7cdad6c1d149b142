//! `cohort profile`.

use anyhow::Context as _;
use cohort_model::{PersonId, Profile};
use cohort_store::EventStore;

use super::Context;
use crate::output::{mask_phone, percent};

/// Arguments of `cohort profile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The person (user id, or anonymous id for visitors who never logged in).
    pub person: String,
    /// Recent events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Show PII (phone) unmasked.
    #[arg(long)]
    pub show_pii: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let person = PersonId::new(args.person.clone())?;
    let profile = ctx.store.profile(&person)?;
    let history = ctx.store.history(&person)?.with_context(|| format!("no person {:?} in the store", args.person))?;
    let phone = history.user.as_ref().and_then(|u| u.phone.as_deref()).map(|p| {
        if args.show_pii {
            p.to_string()
        } else {
            mask_phone(p)
        }
    });
    let links = ctx.store.identity_links(Some(&person))?;
    let merges = ctx.store.merges(Some(&person))?;
    if args.json {
        let recent: Vec<_> = history.events.iter().rev().take(args.events).collect();
        let json = serde_json::json!({
            "profile": profile, "phone": phone, "recent_events": recent,
            "identity": { "links": links, "merges": merges },
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("person {}", person);
    if let Some(user) = &history.user {
        let city = user.city.as_deref().unwrap_or("-");
        println!(
            "  user: city {city}, phone {}, channel {}",
            phone.as_deref().unwrap_or("-"),
            user.channel.as_deref().unwrap_or("-")
        );
    }
    if !links.is_empty() {
        let ids: Vec<String> = links.iter().map(|l| format!("{} {} ({})", l.kind.as_str(), l.id, l.via)).collect();
        println!("  ids: {}", ids.join(", "));
    }
    for m in &merges {
        println!("  merged {} → {} by {} at {}", m.from, m.into, m.via, ctx.shop_time_fmt(m.at));
    }
    match &profile {
        Some(p) => print_profile(p),
        None => println!("  (no profile yet: run `cohort compute`)"),
    }
    println!("  recent events:");
    for e in history.events.iter().rev().take(args.events) {
        let what = e.product_id.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
        let platform = e.platform.map(|p| p.as_str()).unwrap_or("-");
        println!("    {}  {:<26} {platform}{what}", ctx.shop_time_fmt(e.timestamp), e.name.as_str());
    }
    Ok(())
}

fn print_profile(p: &Profile) {
    let opt_days = |d: Option<i64>| d.map_or("-".to_string(), |d| format!("{d} days"));
    println!("  as of {}", p.as_of.format("%Y-%m-%d %H:%M UTC"));
    println!(
        "  value tier {} ({}), lifecycle {} ({}), behaviour {} ({})",
        p.value_tier,
        p.value_tier.label_zh(),
        p.lifecycle,
        p.lifecycle.label_zh(),
        p.behaviour,
        p.behaviour.label_zh()
    );
    if let (Some(rfm), Some(seg)) = (p.rfm, p.rfm_segment) {
        println!("  RFM {}{}{} → {} ({})", rfm.recency, rfm.frequency, rfm.monetary, seg, seg.label_zh());
    }
    println!(
        "  recency {}, inactive {} days, registered {} ago, {} visit days in 30d",
        opt_days(p.recency_days),
        p.inactive_days,
        opt_days(p.registration_age_days),
        p.visit_days_30d
    );
    println!(
        "  orders 30/90/180/all: {}/{}/{}/{}; spend {} / {} / {} / {}; AOV {}",
        p.orders.d30,
        p.orders.d90,
        p.orders.d180,
        p.orders.lifetime,
        p.monetary.d30,
        p.monetary.d90,
        p.monetary.d180,
        p.monetary.lifetime,
        p.aov.map_or("-".into(), |m| m.to_string())
    );
    let shares: Vec<String> = p.category_shares.iter().take(4).map(|(c, s)| format!("{c} {}", percent(*s))).collect();
    println!("  categories: {}", if shares.is_empty() { "-".into() } else { shares.join(", ") });
    println!(
        "  price sensitivity {}, new-product trial {}, weekend {}, peak hour {}",
        p.price_sensitivity.map_or("-".into(), percent),
        p.new_product_trial_rate.map_or("-".into(), percent),
        p.weekend_share.map_or("-".into(), percent),
        p.peak_hour.map_or("-".into(), |h| format!("{h:02}:00"))
    );
    println!(
        "  platforms: app {}, mini-program {}, web {}, store {}",
        percent(p.platform_mix.app),
        percent(p.platform_mix.mini_program),
        percent(p.platform_mix.web),
        percent(p.platform_mix.store)
    );
    println!("  reviews {}, shares {}, refunds {} ({})", p.reviews, p.shares, p.refunds, p.refunded);
}
