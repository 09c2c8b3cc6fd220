-- Q6 regression scan: functions whose inclusive share rose by >= threshold between
-- consecutive versions of each app.
WITH g AS (
  SELECT CAST(app AS VARCHAR) AS app, CAST(version AS VARCHAR) AS version,
         sum(value) AS total, function_totals(stack, value) AS ft
  FROM samples GROUP BY app, version),
fs AS (
  SELECT app, version, n['function'] AS function, n['total'] AS incl
  FROM (SELECT app, version, unnest(ft) AS n FROM g)),
vr AS (
  SELECT app, version, total, dense_rank() OVER (PARTITION BY app ORDER BY version) AS rk FROM g),
pairs AS (
  SELECT f.app AS app, f.version AS from_version, t.version AS to_version,
         f.total AS total_from, t.total AS total_to
  FROM vr AS f JOIN vr AS t ON f.app = t.app AND t.rk = f.rk + 1)
SELECT p.app, p.from_version, p.to_version, b.function,
       coalesce(a.incl, 0) AS incl_from, b.incl AS incl_to,
       CAST(b.incl AS DOUBLE) / p.total_to - CAST(coalesce(a.incl, 0) AS DOUBLE) / p.total_from AS delta
FROM pairs AS p
JOIN fs AS b ON b.app = p.app AND b.version = p.to_version
LEFT JOIN fs AS a ON a.app = p.app AND a.version = p.from_version AND a.function = b.function
WHERE CAST(b.incl AS DOUBLE) / p.total_to - CAST(coalesce(a.incl, 0) AS DOUBLE) / p.total_from >= $threshold
ORDER BY p.app, p.from_version, delta DESC
