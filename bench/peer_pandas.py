"""The RFM + lifecycle job of `cohort compute`, written in pandas.

The peer of `sql/rfm_lifecycle.sql`, line for line where pandas allows;
definitions in docs/segments.md, conventions repeated at the top of the SQL
file. `load` reads the native CSV files (the timed "load" step), `compute`
derives one row per person (the timed "compute" step).

Run alone: python3 bench/peer_pandas.py SHOP_DIR [--json OUT]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHOP_TZ = "Asia/Shanghai"
VALUE_WINDOW_DAYS = 365
NEVER_SEEN_INACTIVE_DAYS = 36_500

# Cohort's known event names, lower-cased without ' ', '_', '-'
# (`EventName::parse`); any other name is a custom event, not activity.
ACTIVITY_KEYS = {
    "pageviewed", "page", "screen", "screenviewed", "visit",
    "productssearched", "search", "productlistviewed", "productviewed", "pv",
    "productclicked", "productadded", "addtocart", "productremoved",
    "productaddedtowishlist", "fav", "cartviewed", "checkoutstarted",
    "paymentinfoentered", "ordercompleted", "ordercancelled", "ordercanceled",
    "orderrefunded", "couponapplied", "productreviewed", "productshared",
    "checkedin", "checkin", "livestreamwatched", "shortvideowatched",
}


def is_activity(name: str) -> bool:
    return "".join(c for c in name if c not in " _-").lower() in ACTIVITY_KEYS


def _read(path, columns, dtype, instants):
    # Only the empty cell is missing (not "NA", "null", ...), as in Cohort.
    frame = pd.read_csv(path, usecols=columns, dtype=dtype, keep_default_na=False, na_values=[""])
    for column in instants:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def load(shop) -> dict[str, pd.DataFrame]:
    """The columns the job reads, typed: ids as text, instants as UTC
    datetimes, the event name as a category, money as float yuan."""
    ids = {"person_id": str, "user_id": str, "anonymous_id": str}
    events = _read(
        f"{shop}/events.csv",
        ["person_id", "user_id", "anonymous_id", "event", "timestamp"],
        {**ids, "event": "category"},
        ["timestamp"],
    )
    order_lines = _read(
        f"{shop}/orders.csv",
        ["order_id", "kind", "person_id", "user_id", "anonymous_id", "placed_at", "total"],
        {**ids, "order_id": str, "kind": "category", "total": "float64"},
        ["placed_at"],
    )
    users = _read(f"{shop}/users.csv", ["user_id", "registered_at"], {"user_id": str}, ["registered_at"])
    return {"events": events, "order_lines": order_lines, "users": users}


def person_of(frame: pd.DataFrame) -> pd.Series:
    """The record's person: person_id, else user_id, else anonymous_id."""
    return frame.person_id.fillna(frame.user_id).fillna(frame.anonymous_id)


def rfm_segment(r: pd.Series, f: pd.Series) -> np.ndarray:
    """The classic segment from the R and F scores (`RfmScore::segment`)."""
    return np.select(
        [
            (r == 5) & (f >= 4),
            r.isin([3, 4]) & (f >= 4),
            r.isin([4, 5]) & f.isin([2, 3]),
            r == 5,
            r == 4,
            (r == 3) & (f == 3),
            r == 3,
            f == 5,
            f.isin([3, 4]),
        ],
        [
            "champions", "loyal_customers", "potential_loyalists", "new_customers", "promising",
            "need_attention", "about_to_sleep", "cant_lose", "at_risk",
        ],
        "hibernating",
    )


def compute(events: pd.DataFrame, order_lines: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """One row per person known at as_of: features, value tier, lifecycle
    stage, RFM scores and segment."""
    # (Rows without a person, name or time are refused by `cohort import`.)
    events = events.assign(person=person_of(events)).dropna(subset=["person", "event", "timestamp"])
    # orders.csv has one row per order line: one row per order (its first line).
    orders = order_lines.drop_duplicates("order_id")
    orders = orders.assign(person=person_of(orders), is_purchase=orders.kind != "refund")

    as_of = pd.Series([events.timestamp.max(), orders.placed_at.max()]).max()  # NaT-safe
    today = as_of.tz_convert(SHOP_TZ).normalize()

    def days_ago(instants: pd.Series) -> pd.Series:
        """Shop-local calendar days from each instant to as_of (NaN for none)."""
        return (today - instants.dt.tz_convert(SHOP_TZ).dt.normalize()).dt.days

    # Activity: events with a known name, and every order. People whose only
    # events are custom are kept (known) with no activity (NaT).
    active_names = [name for name in events.event.cat.categories if is_activity(name)]
    activity = (
        pd.concat([
            pd.DataFrame({"person": events.person, "at": events.timestamp.where(events.event.isin(active_names))}),
            pd.DataFrame({"person": orders.person, "at": orders.placed_at}),
        ])
        .groupby("person")
        .at.agg(first_active="min", last_active="max")
    )

    purchases = orders[orders.is_purchase & orders.person.notna()]
    purchases = purchases.assign(
        days_ago=days_ago(purchases.placed_at),
        paid=(purchases.total * 100).round().astype("int64").clip(lower=0),  # fen; a negative total adds nothing
    )
    in_window = purchases.days_ago <= VALUE_WINDOW_DAYS
    buyers = (
        purchases.assign(value_orders=in_window, value_monetary=purchases.paid.where(in_window, 0))
        .groupby("person")
        .agg(recency_days=("days_ago", "min"), value_orders=("value_orders", "sum"),
             value_monetary=("value_monetary", "sum"))
    )

    # Registered users are known unless they registered after as_of.
    users = users.set_index("user_id")
    known_users = users.index[users.registered_at.isna() | (users.registered_at <= as_of)]
    p = pd.DataFrame(index=activity.index.union(known_users))
    p = p.join(activity).join(buyers).join(users.registered_at)

    registered_at = p.registered_at.where(p.registered_at <= as_of).fillna(p.first_active)
    p["registration_age_days"] = days_ago(registered_at)
    # Never active: days since registration; neither: "never seen".
    p["inactive_days"] = (
        days_ago(p.last_active).fillna(p.registration_age_days).fillna(NEVER_SEEN_INACTIVE_DAYS).astype("int64")
    )
    bought = p.recency_days.notna()
    p["value_orders"] = p.value_orders.fillna(0).astype("int64")
    p["value_monetary"] = p.value_monetary.fillna(0).astype("int64")

    r, f, m = p.recency_days, p.value_orders, p.value_monetary
    p["value_tier"] = np.select(
        [
            ~bought,
            f == 0,  # lapsed buyer
            (r <= 30) & (f >= 3) & (m >= 50_000),
            (r <= 30) & f.between(1, 2) & (m >= 20_000) & (m < 50_000),
            (r >= 90) & (f <= 1) & (m < 20_000),
        ],
        ["prospect", "general", "high_value", "potential", "low_value"],
        "general",
    )
    age, inactive = p.registration_age_days, p.inactive_days
    p["lifecycle"] = np.select(
        [age <= 7, inactive <= 29, inactive <= 45, inactive <= 60, inactive <= 90],
        ["new", "active", "silent_light", "silent_medium", "silent_heavy"],
        "churned",
    )

    # Quantile RFM among the buyers of the value window:
    # score = 1 + floor(5 × worse / n), worse = buyers with a strictly worse
    # value; rank(method="min") - 1 counts exactly those, ties share a rank.
    scored = p[p.value_orders > 0]
    n = len(scored)

    def score(rank: pd.Series) -> pd.Series:
        worse = rank.astype("int64") - 1
        return 1 + (5 * worse) // n

    rfm = pd.DataFrame({
        "r": score(scored.recency_days.rank(method="min", ascending=False)),
        "f": score(scored.value_orders.rank(method="min")),
        "m": score(scored.value_monetary.rank(method="min")),
    })
    rfm["rfm_segment"] = rfm_segment(rfm.r, rfm.f)
    return p.join(rfm)


def counts(p: pd.DataFrame) -> dict:
    """People per value tier, lifecycle stage and RFM segment."""
    per = lambda column: {k: int(v) for k, v in p[column].value_counts().items()}  # noqa: E731
    return {
        "total": len(p),
        "rfm_scored": int(p.rfm_segment.notna().sum()),
        "value_tiers": per("value_tier"),
        "lifecycle": per("lifecycle"),
        "rfm": per("rfm_segment"),
    }


if __name__ == "__main__":
    from peer_common import main

    main(
        "pandas",
        load=lambda shop, threads: load(shop),
        compute=lambda frames: compute(**frames),
        counts=counts,
        version=pd.__version__,
    )
