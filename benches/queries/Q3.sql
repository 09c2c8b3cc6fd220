-- Q3 diff: per-stack sums of one app in two versions, with each side's share.
-- Summing per (stack, version) first lets the scan pre-sum each block (version is constant
-- in a block); the pivot then works on distinct stacks only.
WITH v AS (
  SELECT stack AS s, CAST(version AS VARCHAR) AS version, sum(value) AS value
  FROM samples WHERE app = '$app' AND version IN ('$v1', '$v2')
  GROUP BY stack, version),
a AS (
  SELECT s,
         sum(CASE WHEN version = '$v1' THEN value ELSE 0 END) AS left_value,
         sum(CASE WHEN version = '$v2' THEN value ELSE 0 END) AS right_value
  FROM v GROUP BY s)
SELECT folded(s) AS stack, left_value, right_value,
       CAST(left_value AS DOUBLE) / sum(left_value) OVER () AS left_share,
       CAST(right_value AS DOUBLE) / sum(right_value) OVER () AS right_share,
       CAST(right_value AS DOUBLE) / sum(right_value) OVER ()
         - CAST(left_value AS DOUBLE) / sum(left_value) OVER () AS delta
FROM a
