-- Load Cohort's native CSV files (docs/native-format.md) into typed DuckDB
-- tables: the "load" step of the DuckDB SQL peer, timed on its own.
--
-- Only the columns the RFM + lifecycle job reads are kept. Every column is
-- read as text (no sniffing surprises with ids such as `00123`) and cast
-- explicitly; an empty cell is NULL. Instants are RFC 3339 in UTC, money is
-- decimal yuan. `{shop}` is replaced by the directory of the files.

SET TimeZone = 'UTC';

CREATE OR REPLACE TABLE events AS
SELECT person_id,
       user_id,
       anonymous_id,
       event,
       CAST("timestamp" AS TIMESTAMPTZ) AS ts
FROM read_csv('{shop}/events.csv', header = true, all_varchar = true,
              delim = ',', quote = '"', escape = '"');

-- One row per order line; the order's fields are repeated on every line.
CREATE OR REPLACE TABLE order_lines AS
SELECT order_id,
       kind,
       person_id,
       user_id,
       anonymous_id,
       CAST(placed_at AS TIMESTAMPTZ) AS placed_at,
       CAST(CAST(total AS DECIMAL(18, 2)) * 100 AS BIGINT) AS total_fen
FROM read_csv('{shop}/orders.csv', header = true, all_varchar = true,
              delim = ',', quote = '"', escape = '"');

CREATE OR REPLACE TABLE users AS
SELECT user_id,
       CAST(registered_at AS TIMESTAMPTZ) AS registered_at
FROM read_csv('{shop}/users.csv', header = true, all_varchar = true,
              delim = ',', quote = '"', escape = '"');
