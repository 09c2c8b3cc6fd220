-- Q5 time series: value per minute of one app, only stacks containing a function.
SELECT CAST(date_part('epoch', date_trunc('minute', time)) AS BIGINT) AS minute, sum(value) AS value
FROM samples
WHERE app = '$app' AND stack_contains(stack, '$function')
GROUP BY 1 ORDER BY 1
