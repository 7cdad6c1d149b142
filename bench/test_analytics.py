"""Checks the analytics peers of `analytics.py` (DuckDB SQL and pandas
funnel and retention) on a hand-made event list with known answers, built
on docs/analytics.md's definitions: ordered mode, earliest next match,
inclusive window, same-instant steps count in step order, the furthest
attempt counts; weeks Monday–Sunday in Asia/Shanghai.

    python3 -m unittest discover -s bench -v      (needs bench/requirements.txt)
"""

from __future__ import annotations

import sys
import unittest
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
from analytics import (assemble, duckdb_funnel, duckdb_retention, pandas_funnel,  # noqa: E402
                       pandas_retention, shop_date)

V, A, C, O = "Product Viewed", "Product Added", "Checkout Started", "Order Completed"
T0 = datetime(2025, 3, 3, 4, 0, 0)  # UTC; Monday 3 March 12:00 in Shanghai
DAY, S = timedelta(days=1), timedelta(seconds=1)

# (person, event, UTC instant); the comment gives the level the person reaches.
EVENTS = [
    ("p1", V, T0), ("p1", A, T0 + DAY), ("p1", C, T0 + 2 * DAY), ("p1", O, T0 + 7 * DAY),   # 4: exactly 7 days
    ("p2", V, T0), ("p2", A, T0 + DAY), ("p2", C, T0 + 2 * DAY), ("p2", O, T0 + 7 * DAY + S),  # 3: one second late
    ("p3", V, T0), ("p3", A, T0), ("p3", C, T0), ("p3", O, T0),                           # 4: one instant
    ("p4", C, T0), ("p4", V, T0 + S), ("p4", A, T0 + 2 * S),                             # 2: checkout before view
    ("p5", V, T0), ("p5", A, T0 + 8 * DAY),                                               # 1, then
    ("p5", V, T0 + 9 * DAY), ("p5", A, T0 + 9 * DAY), ("p5", C, T0 + 10 * DAY),          # 3: second attempt further
    ("p6", A, T0), ("p6", C, T0), ("p6", O, T0),                                          # 0: no view
    ("p7", V, T0), ("p7", O, T0 + DAY), ("p7", A, T0 + 2 * DAY), ("p7", C, T0 + 3 * DAY),  # 3: order before cart
    ("p8", V, T0), ("p8", A, T0 + 6 * DAY), ("p8", V, T0 + 6 * DAY), ("p8", C, T0 + 7 * DAY + S),
    ("p8", O, T0 + 7 * DAY + S),                                                          # 4: from the 2nd view
    (None, V, T0), (None, A, T0),                                                         # anonymous: not counted
]
FUNNEL = [7, 7, 6, 3]  # p1 p2 p3 p4 p5 p7 p8 viewed and added; p4 stops at 2; p2 p5 p7 at 3; p1 p3 p8 finish

# Retention: week of 3 March (Shanghai) = Mon 3 … Sun 9 March.
R0 = datetime(2025, 3, 3, 16, 0)  # UTC = Tue 4 March 00:00 Shanghai
RET_EVENTS = [
    ("r1", "Page Viewed", R0), ("r1", "Page Viewed", R0 + DAY),             # same week: no return
    ("r2", "Page Viewed", R0), ("r2", "Page Viewed", datetime(2025, 3, 9, 15, 30)),  # Sun 23:30 SH: week 0
    ("r3", "Page Viewed", R0), ("r3", "Page Viewed", datetime(2025, 3, 9, 16, 30)),  # Mon 00:30 SH: week 1
    ("r4", "Page Viewed", R0), ("r4", "Page Viewed", R0 + 14 * DAY),        # week 2
    ("r5", "Page Viewed", datetime(2025, 3, 2, 15, 59)),                     # Sun 2 March 23:59 SH: week of 24 Feb
    ("r5", "Page Viewed", R0 + 7 * DAY),                                    # its week 2
]


def tables(events):
    frame = pd.DataFrame(events, columns=["person_id", "event", "ts"])
    frame["person_id"] = frame["person_id"].astype("string")
    con = duckdb.connect()
    con.execute("CREATE TABLE events (person_id VARCHAR, event VARCHAR, ts TIMESTAMP)")
    con.executemany("INSERT INTO events VALUES (?, ?, ?)", events)
    frame["ts"] = frame["ts"].dt.tz_localize("UTC")
    return con, frame


class FunnelPeers(unittest.TestCase):
    def test_duckdb_sql(self):
        con, _ = tables(EVENTS)
        self.assertEqual(duckdb_funnel(con), FUNNEL)

    def test_pandas(self):
        _, frame = tables(EVENTS)
        self.assertEqual(pandas_funnel(frame), FUNNEL)

    def test_window_of_one_second_less(self):
        # with a window of 7 days − 1 s, p1 (order exactly 7 days later) stops at 3
        con, frame = tables([e for e in EVENTS if e[0] == "p1"])
        self.assertEqual(duckdb_funnel(con, window_s=7 * 86_400 - 1), [1, 1, 1, 0])
        self.assertEqual(pandas_funnel(frame, window_s=7 * 86_400 - 1), [1, 1, 1, 0])


class RetentionPeers(unittest.TestCase):
    as_of = datetime(2025, 3, 18, 0, 0)  # UTC: Tue 18 March Shanghai, week of 17 March observed

    def expected(self):
        return [
            {"cohort": "2025-02-24", "size": 1, "retained": [1, 0, 1, 0] + [None] * 9},
            {"cohort": "2025-03-03", "size": 4, "retained": [4, 1, 1] + [None] * 10},
        ]

    def test_duckdb_sql(self):
        con, _ = tables(RET_EVENTS)
        grid = duckdb_retention(con, self.as_of)
        self.assertEqual(assemble(grid, shop_date(self.as_of)), self.expected())

    def test_pandas(self):
        _, frame = tables(RET_EVENTS)
        as_of = pd.Timestamp(self.as_of, tz="UTC")
        grid = pandas_retention(frame, as_of)
        self.assertEqual(assemble(grid, shop_date(as_of)), self.expected())
        self.assertEqual(shop_date(as_of), date(2025, 3, 18))


if __name__ == "__main__":
    unittest.main()
