-- Q6 regression scan: functions whose inclusive share rose by >= threshold between
-- consecutive versions of each app. One pass: per (app, version) the total and
-- function_totals (inclusive value per function, once per stack), then window functions
-- pair each version with the previous one (DataFusion does not materialize CTEs, so
-- self-joins would recompute the aggregate once per reference).
WITH g AS (
  SELECT app, version, total, ft,
         dense_rank() OVER (PARTITION BY app ORDER BY version) AS rk,
         lag(version) OVER (PARTITION BY app ORDER BY version) AS from_version,
         lag(total) OVER (PARTITION BY app ORDER BY version) AS total_from
  FROM (SELECT CAST(app AS VARCHAR) AS app, CAST(version AS VARCHAR) AS version,
               sum(value) AS total, function_totals(stack, value) AS ft
        FROM samples GROUP BY app, version)),
f AS (
  SELECT app, version, rk, total, from_version, total_from,
         n['function'] AS function, n['total'] AS incl
  FROM (SELECT app, version, rk, total, from_version, total_from, unnest(ft) AS n FROM g)),
w AS (
  SELECT *,
         lag(incl) OVER (PARTITION BY app, function ORDER BY rk) AS prev_incl,
         lag(rk) OVER (PARTITION BY app, function ORDER BY rk) AS prev_rk
  FROM f),
d AS (
  SELECT app, from_version, version AS to_version, function,
         CASE WHEN prev_rk = rk - 1 THEN prev_incl ELSE 0 END AS incl_from, incl AS incl_to,
         CAST(incl AS DOUBLE) / total
           - CAST(CASE WHEN prev_rk = rk - 1 THEN prev_incl ELSE 0 END AS DOUBLE) / total_from AS delta
  FROM w WHERE from_version IS NOT NULL)
SELECT * FROM d WHERE delta >= $threshold
ORDER BY app, from_version, delta DESC
