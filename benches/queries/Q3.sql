-- Q3 diff: per-stack sums of one app in two versions, with each side's share.
-- One GROUP BY stack with a conditional sum per side: the version condition is constant
-- within a block, so the scan still pre-sums each block per stack and the CASE runs on
-- those few rows.
WITH a AS (
  SELECT stack AS s,
         sum(CASE WHEN version = '$v1' THEN value ELSE 0 END) AS left_value,
         sum(CASE WHEN version = '$v2' THEN value ELSE 0 END) AS right_value
  FROM samples WHERE app = '$app' AND version IN ('$v1', '$v2')
  GROUP BY stack)
SELECT folded(s) AS stack, left_value, right_value,
       CAST(left_value AS DOUBLE) / sum(left_value) OVER () AS left_share,
       CAST(right_value AS DOUBLE) / sum(right_value) OVER () AS right_share,
       CAST(right_value AS DOUBLE) / sum(right_value) OVER ()
         - CAST(left_value AS DOUBLE) / sum(left_value) OVER () AS delta
FROM a
