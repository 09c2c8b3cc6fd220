-- Q4 top functions: self and total (once per stack) per function of one app.
SELECT n['function'] AS function, n['self'] AS self, n['total'] AS total
FROM (SELECT unnest(function_totals(stack, value)) AS n FROM samples WHERE app = '$app')
ORDER BY total DESC
