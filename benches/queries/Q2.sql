-- Q2 filtered merge: one app, version and dc in a 10-minute window.
SELECT folded(s) AS stack, value
FROM (SELECT stack AS s, sum(value) AS value FROM samples
      WHERE app = '$app' AND version = '$version' AND dc = '$dc'
        AND time >= TIMESTAMP '$window_start' AND time < TIMESTAMP '$window_end'
      GROUP BY stack)
