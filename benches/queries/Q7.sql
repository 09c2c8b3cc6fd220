-- Q7 label cardinality: distinct pods per app and dc. Every sample row belongs to a
-- profile row with the same series labels, so the profiles table (one row per profile)
-- answers it; `stacks > 0` keeps profiles that have sample rows.
SELECT CAST(app AS VARCHAR) AS app, CAST(dc AS VARCHAR) AS dc, count(DISTINCT labels['pod']) AS pods
FROM profiles WHERE stacks > 0
GROUP BY 1, 2 ORDER BY 1, 2
