"""Tiny hand-made shops in Cohort's native CSV format, with the segments
docs/segments.md says each person must get: the test data of the peers
(`test_peers.py`), and a quick input for `run.py --shop DIR`.

    python3 bench/tiny_shop.py DIR [--filler N] [--seed S]

writes DIR/{events,orders,users,products}.csv and DIR/expected.json.

`as_of` is 2025-06-30T16:30:00Z, i.e. 00:30 on 1 July in Asia/Shanghai, so
UTC and shop-local day counts disagree for anything placed late in a shop
day. Each boundary case names the rule it checks.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

EVENT_COLUMNS = [
    "id", "person_id", "user_id", "anonymous_id", "event", "timestamp", "platform", "channel", "product_id",
    "category", "price", "quantity", "order_id", "revenue", "discount", "coupon", "query", "rating", "review_body",
    "properties",
]
ORDER_COLUMNS = [
    "order_id", "kind", "person_id", "user_id", "anonymous_id", "placed_at", "platform", "channel", "total",
    "discount", "shipping", "coupon", "refund_of", "line_no", "product_id", "quantity", "unit_price", "category",
]
USER_COLUMNS = ["user_id", "registered_at", "platform", "channel", "birthday", "gender", "city", "phone", "traits"]
PRODUCT_COLUMNS = ["product_id", "name", "category", "price", "brand", "launched_at", "consumable", "in_stock"]

SHOP_TZ = timezone(timedelta(hours=8))  # Asia/Shanghai: no DST since 1991
TODAY = datetime(2025, 7, 1, tzinfo=SHOP_TZ)  # shop-local date of as_of
AS_OF = datetime(2025, 7, 1, 0, 30, tzinfo=SHOP_TZ)


def local(days_ago: int, hhmm: str = "12:00") -> datetime:
    """An instant `days_ago` shop-local days before as_of, at local hh:mm."""
    hour, minute = map(int, hhmm.split(":"))
    return TODAY - timedelta(days=days_ago) + timedelta(hours=hour, minutes=minute)


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Shop:
    """Rows of the four native files, and the expected segments."""

    def __init__(self):
        self.events, self.orders, self.users = [], [], []
        self.products = [
            {"product_id": f"p{i:05}", "name": f"商品{i}", "category": cat, "price": "99.00", "brand": "品牌",
             "launched_at": "", "consumable": "true", "in_stock": "true"}
            for i, cat in enumerate(["零食", "美妆", "数码", "服饰"])
        ]
        self.expected: dict[str, dict] = {}
        self._ids = 0

    def _next(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def expect(self, person: str, tier: str | None, stage: str | None, **extra):
        """tier/stage None: the person must not be profiled at all."""
        self.expected[person] = {"value_tier": tier, "lifecycle": stage, **extra}

    def user(self, user_id: str, registered: datetime | None):
        self.users.append({"user_id": user_id, "registered_at": rfc3339(registered) if registered else "",
                           "platform": "app", "channel": "douyin", "birthday": "1990-01-01", "gender": "f",
                           "city": "上海", "phone": "13800000000", "traits": "{}"})

    def event(self, at: datetime, name: str = "Page Viewed", *, person_id="", user_id="", anonymous_id=""):
        self.events.append({"id": self._next("e"), "person_id": person_id, "user_id": user_id,
                            "anonymous_id": anonymous_id, "event": name, "timestamp": rfc3339(at),
                            "platform": "app", "channel": "organic", "product_id": "p00001", "category": "美妆",
                            "price": "99.00", "quantity": "1", "properties": '{"note": "a, \\"quoted\\" one"}'})

    def order(self, at: datetime, total: str, *, person="", user_id="", kind="purchase", lines=1, refund_of=""):
        order_id = self._next("o")
        for line in range(1, lines + 1):
            self.orders.append({"order_id": order_id, "kind": kind, "person_id": person, "user_id": user_id,
                                "placed_at": rfc3339(at), "platform": "app", "channel": "organic", "total": total,
                                "discount": "0.00", "shipping": "0.00", "refund_of": refund_of,
                                "line_no": str(line), "product_id": f"p0000{line % 4}", "quantity": "1",
                                "unit_price": total, "category": "零食"})
        return order_id

    def write(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        for name, columns, rows in [("events.csv", EVENT_COLUMNS, self.events),
                                    ("orders.csv", ORDER_COLUMNS, self.orders),
                                    ("users.csv", USER_COLUMNS, self.users),
                                    ("products.csv", PRODUCT_COLUMNS, self.products)]:
            with open(out / name, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns, restval="", lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
        with open(out / "expected.json", "w", encoding="utf-8") as f:
            json.dump({"as_of": rfc3339(AS_OF), "persons": self.expected}, f, indent=1, ensure_ascii=False)


def boundary_shop(filler: int = 0, seed: int = 1) -> Shop:
    """Every boundary of docs/segments.md, plus `filler` random people (no
    expectations: they cross-check the peers against each other)."""
    s = Shop()
    old = local(400)

    def buyer(uid: str, orders: list[tuple[datetime, str]], tier: str, stage: str, registered=old, **extra):
        s.user(uid, registered)
        for at, total in orders:
            s.order(at, total, person=uid, user_id=uid)
        s.expect(uid, tier, stage, **extra)

    # as_of comes from an order with no person at all (still "in the store");
    # the latest event is 40 minutes earlier, on the previous shop day.
    s.order(AS_OF, "10.00")
    s.user("latest", old)
    s.event(local(1, "23:50"), person_id="latest", user_id="latest")
    s.expect("latest", "prospect", "active", inactive_days=1)

    # Value tiers (R = recency days, F / M = purchases / fen in 365 days).
    buyer("hv_r30", [(local(30), "200.00"), (local(40), "150.00"), (local(50), "150.00")],
          "high_value", "silent_light", recency_days=30, value_orders=3, value_monetary=50000)
    buyer("r31", [(local(31), "200.00"), (local(40), "150.00"), (local(50), "150.00")],
          "general", "silent_light", recency_days=31)
    # 23:59 local 31 days ago is only 30 UTC dates before as_of.
    buyer("r31_late", [(local(31, "23:59"), "400.00"), (local(40), "150.00"), (local(50), "150.00")],
          "general", "silent_light", recency_days=31)
    buyer("pot_200", [(local(5), "200.00")], "potential", "active", value_monetary=20000)
    buyer("pot_499_99", [(local(3), "300.00"), (local(20), "199.99")], "potential", "active")
    buyer("f2_500", [(local(2), "250.00"), (local(9), "250.00")], "general", "active")
    buyer("f3_499_99", [(local(2), "200.00"), (local(9), "200.00"), (local(10), "99.99")], "general", "active")
    buyer("pot_late", [(local(1, "23:59"), "250.00")], "potential", "active", recency_days=1)
    buyer("low_90", [(local(90), "199.99")], "low_value", "silent_heavy", inactive_days=90)
    buyer("r89", [(local(89), "100.00")], "general", "silent_heavy", inactive_days=89)
    buyer("low_200", [(local(100), "200.00")], "general", "churned")
    buyer("f2_old", [(local(100), "50.00"), (local(120), "50.00")], "general", "churned")
    buyer("lapsed_366", [(local(366), "50.00")], "general", "churned", value_orders=0, r=None)
    buyer("window_365", [(local(365), "50.00")], "low_value", "churned", value_orders=1)
    # A negative total is an adjustment: it adds nothing (else M = 19,000).
    buyer("negative", [(local(4), "200.00"), (local(3), "-10.00")], "potential", "active", value_monetary=20000)
    # One order of two lines is one purchase of its total, not two.
    s.user("multiline", old)
    s.order(local(6), "300.00", person="multiline", user_id="multiline", lines=2)
    s.expect("multiline", "potential", "active", value_orders=1, value_monetary=30000)
    # person_id empty: the order belongs to its user.
    s.user("user_only", old)
    s.order(local(2), "250.00", user_id="user_only")
    s.expect("user_only", "potential", "active")
    # A refund is activity but not a purchase.
    s.user("refund_only", old)
    s.order(local(40), "88.00", person="refund_only", user_id="refund_only", kind="refund", refund_of="o0")
    s.expect("refund_only", "prospect", "silent_light", inactive_days=40)

    # Lifecycle: registration age, then days since the last activity.
    s.user("new_7", local(7, "23:59"))
    s.expect("new_7", "prospect", "new", registration_age_days=7)
    s.user("reg_8", local(8, "00:01"))
    s.expect("reg_8", "prospect", "active", inactive_days=8)
    for days, stage in [(29, "active"), (30, "silent_light"), (45, "silent_light"), (46, "silent_medium"),
                        (60, "silent_medium"), (61, "silent_heavy"), (90, "silent_heavy"), (91, "churned")]:
        uid = f"inactive_{days}"
        s.user(uid, old)
        s.event(local(days + 5), "Products Searched", person_id=uid, user_id=uid)
        s.event(local(days, "23:30"), "Product Viewed", person_id=uid, user_id=uid)
        s.expect(uid, "prospect", stage, inactive_days=days)
    # Registered after as_of and never seen before it: not profiled.
    s.user("future", AS_OF + timedelta(hours=1))
    s.expect("future", None, None)
    # Registered after as_of but active before: registered at first activity.
    s.user("future_active", AS_OF + timedelta(days=2))
    s.event(local(40), person_id="future_active", user_id="future_active")
    s.event(local(20), person_id="future_active", user_id="future_active")
    s.expect("future_active", "prospect", "active", registration_age_days=40, inactive_days=20)
    # No registration date and no record: never seen (36,500 days).
    s.user("undated", None)
    s.expect("undated", "prospect", "churned", inactive_days=36500)
    # An anonymous visitor is their own person, registered at first sight.
    s.event(local(3), anonymous_id="anon-1")
    s.event(local(1), "Product Viewed", anonymous_id="anon-1")
    s.expect("anon-1", "prospect", "new", registration_age_days=3)
    # Custom events (messages sent to the person) are not activity...
    s.user("custom_user", local(200))
    s.event(local(2), "Message Sent", person_id="custom_user", user_id="custom_user")
    s.expect("custom_user", "prospect", "churned", inactive_days=200)
    # ... but they make the person known: no date at all, never seen.
    s.event(local(2), "Coupon Sent", person_id="custom_only")
    s.expect("custom_only", "prospect", "churned", inactive_days=36500)
    # Known names are matched ignoring case and separators.
    s.user("snake_case", old)
    s.event(local(5), "product_viewed", person_id="snake_case", user_id="snake_case")
    s.expect("snake_case", "prospect", "active", inactive_days=5)

    rng = random.Random(seed)
    names = ["Page Viewed", "Product Viewed", "Products Searched", "Product Added", "Order Completed",
             "Product Shared", "Checked In", "Message Sent"]
    for i in range(filler):
        uid = f"f{i:04}"
        if rng.random() < 0.9:
            s.user(uid, local(rng.randint(0, 420), f"{rng.randint(0, 23)}:{rng.randint(0, 59)}")
                   if rng.random() < 0.95 else None)
        for _ in range(rng.choice([0, 0, 1, 3, 10, 30])):
            at = local(rng.randint(0, 400), f"{rng.randint(0, 23)}:{rng.randint(0, 59)}")
            who = rng.choice([{"person_id": uid, "user_id": uid}, {"user_id": uid},
                              {"anonymous_id": f"a-{uid}"}, {"person_id": uid, "anonymous_id": f"a-{uid}"}])
            s.event(min(at, AS_OF), rng.choice(names), **who)
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3, 4, 6])):
            at = local(rng.randint(0, 420), f"{rng.randint(0, 23)}:{rng.randint(0, 59)}")
            total = rng.choice(["9.90", "99.00", "199.99", "200.00", "250.00", "499.99", "500.00", "1200.00"])
            kind = "refund" if rng.random() < 0.1 else "purchase"
            s.order(min(at, AS_OF), total, person=uid, user_id=uid, kind=kind, lines=rng.randint(1, 3))
    return s


def rfm_shop() -> Shop:
    """The example of docs/segments.md: five buyers with recency 1, 1, 10,
    40 and 200 days score R = 4, 4, 3, 2, 1. F is 1, 2, 2, 3, 5 purchases
    (F scores 1, 2, 2, 4, 5); everyone spent ¥60 (M = 1, tier general)."""
    s = Shop()
    s.order(AS_OF, "10.00")  # as_of
    plan = [("b1", 1, 1, 4, 1, "promising", "active"), ("b2", 1, 2, 4, 2, "potential_loyalists", "active"),
            ("b3", 10, 2, 3, 2, "about_to_sleep", "active"), ("b4", 40, 3, 2, 4, "at_risk", "silent_light"),
            ("b5", 200, 5, 1, 5, "cant_lose", "churned")]
    for uid, recency, orders, r, f, segment, stage in plan:
        s.user(uid, local(400))
        for k in range(orders):  # ¥60 in all, whatever the number of orders
            s.order(local(recency, f"10:{k:02}"), f"{60 / orders:.2f}", person=uid, user_id=uid)
        s.expect(uid, "general", stage, recency_days=recency, r=r, f=f, m=1, rfm_segment=segment)
    return s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--filler", type=int, default=300, help="random people on top of the boundary cases")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rfm", action="store_true", help="write the five-buyer RFM example instead")
    args = parser.parse_args()
    shop = rfm_shop() if args.rfm else boundary_shop(args.filler, args.seed)
    shop.write(args.out)
    print(f"wrote {len(shop.events)} events, {len(shop.orders)} order lines, {len(shop.users)} users to {args.out}")


if __name__ == "__main__":
    main()
