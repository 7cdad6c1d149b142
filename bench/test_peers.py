"""Checks the two peers (DuckDB SQL, pandas) on the tiny hand-made shops of
`tiny_shop.py`: every boundary case gets the segments docs/segments.md
gives it, and both peers agree person by person on the random filler.

    python3 -m unittest discover -s bench -v      (needs bench/requirements.txt)
"""

from __future__ import annotations

import math
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import peer_duckdb  # noqa: E402
import peer_pandas  # noqa: E402
import tiny_shop  # noqa: E402

COLUMNS = ["registration_age_days", "inactive_days", "recency_days", "value_orders", "value_monetary",
           "value_tier", "lifecycle", "r", "f", "m", "rfm_segment"]


def both_peers(shop: tiny_shop.Shop):
    """Per-person results of DuckDB SQL and pandas, same columns and types."""
    with tempfile.TemporaryDirectory() as tmp:
        shop.write(Path(tmp))
        sql = peer_duckdb.profiles(peer_duckdb.compute(peer_duckdb.load(tmp)))
        pdf = peer_pandas.compute(**peer_pandas.load(tmp)).sort_index()
    return {"duckdb": sql[COLUMNS], "pandas": pdf[COLUMNS]}


def normal(value):
    """None for every flavour of missing, int for whole numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):
        return normal(value.item())
    return value


class Peers(unittest.TestCase):
    def check_expected(self, shop: tiny_shop.Shop):
        results = both_peers(shop)
        for peer, frame in results.items():
            for person, expected in shop.expected.items():
                with self.subTest(peer=peer, person=person):
                    if expected["value_tier"] is None:
                        self.assertNotIn(person, frame.index, "must not be profiled")
                        continue
                    self.assertIn(person, frame.index)
                    row = frame.loc[person]
                    for column, want in expected.items():
                        self.assertEqual(normal(row[column]), want, f"{column} of {person}")
        return results

    def test_boundaries(self):
        results = self.check_expected(tiny_shop.boundary_shop(filler=0))
        self.assertEqual(len(results["duckdb"]), len(tiny_shop.boundary_shop().expected) - 1)  # "future" is out

    def test_rfm_example_of_the_docs(self):
        self.check_expected(tiny_shop.rfm_shop())

    def test_peers_agree_person_by_person(self):
        for seed in (1, 2, 3):
            with self.subTest(seed=seed):
                results = both_peers(tiny_shop.boundary_shop(filler=400, seed=seed))
                sql, pdf = results["duckdb"], results["pandas"]
                self.assertEqual(list(sql.index), list(pdf.index))
                differing = [
                    (person, column, normal(sql.at[person, column]), normal(pdf.at[person, column]))
                    for person in sql.index
                    for column in COLUMNS
                    if normal(sql.at[person, column]) != normal(pdf.at[person, column])
                ]
                self.assertEqual(differing[:10], [])
                # The filler reaches every tier and stage, and RFM scores span 1-5.
                self.assertEqual(set(sql.value_tier), {"prospect", "general", "high_value", "potential", "low_value"})
                self.assertEqual(set(sql.lifecycle),
                                 {"new", "active", "silent_light", "silent_medium", "silent_heavy", "churned"})
                self.assertEqual(set(sql.r.dropna()), {1, 2, 3, 4, 5})

    def test_counts_agree(self):
        with tempfile.TemporaryDirectory() as tmp:
            tiny_shop.boundary_shop(filler=300).write(Path(tmp))
            sql = peer_duckdb.counts(peer_duckdb.compute(peer_duckdb.load(tmp)))
            pdf = peer_pandas.counts(peer_pandas.compute(**peer_pandas.load(tmp)))
        self.assertEqual(sql, pdf)
        self.assertEqual(sum(sql["value_tiers"].values()), sql["total"])
        self.assertEqual(sum(sql["lifecycle"].values()), sql["total"])
        self.assertEqual(sum(sql["rfm"].values()), sql["rfm_scored"])


if __name__ == "__main__":
    unittest.main()
