"""The RFM + lifecycle job of `cohort compute`, hand-written in DuckDB SQL.

The SQL is in `sql/load.sql` (the timed "load" step: CSV files into typed
tables) and `sql/rfm_lifecycle.sql` (the timed "compute" step: one row per
person into table `profiles`); this file only runs them in an in-process,
in-memory DuckDB and reads the counts back.

Run alone: python3 bench/peer_duckdb.py SHOP_DIR [--json OUT] [--threads N]
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().parent / "sql"


def load(shop, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()  # in memory
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    shop_literal = str(Path(shop).resolve()).replace("'", "''")
    con.execute((SQL / "load.sql").read_text().replace("{shop}", shop_literal))
    return con


def compute(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute((SQL / "rfm_lifecycle.sql").read_text())
    return con


def counts(con: duckdb.DuckDBPyConnection) -> dict:
    """People per value tier, lifecycle stage and RFM segment."""

    def per(column: str) -> dict:
        rows = con.execute(
            f"SELECT {column}, count(*) FROM profiles WHERE {column} IS NOT NULL GROUP BY ALL"
        ).fetchall()
        return {segment: n for segment, n in rows}

    total, scored = con.execute("SELECT count(*), count(rfm_segment) FROM profiles").fetchone()
    return {
        "total": total,
        "rfm_scored": scored,
        "value_tiers": per("value_tier"),
        "lifecycle": per("lifecycle"),
        "rfm": per("rfm_segment"),
    }


def profiles(con: duckdb.DuckDBPyConnection):
    """The per-person result as a pandas DataFrame indexed by person (tests)."""
    return con.execute("SELECT * FROM profiles").df().set_index("person").sort_index()


if __name__ == "__main__":
    from peer_common import main

    main("duckdb", load=load, compute=compute, counts=counts, version=duckdb.__version__)
