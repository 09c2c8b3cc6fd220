-- Q1 merge: sum(value) per stack of one app over the whole range.
SELECT folded(s) AS stack, value
FROM (SELECT stack AS s, sum(value) AS value FROM samples WHERE app = '$app' GROUP BY stack)
