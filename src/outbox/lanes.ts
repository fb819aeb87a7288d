/**
 * The lanes that hold readings (live data is lane 0, each backfill job one more), one key
 * lookup per lane: a skip scan of readings' (lane, id) key. There are few lanes and millions
 * of rows, so `SELECT DISTINCT lane` (a full scan) is never the way.
 */
export const LANES_WITH_READINGS_SQL = `WITH RECURSIVE lanes(lane) AS (
    SELECT min(lane) FROM readings
    UNION ALL SELECT (SELECT min(lane) FROM readings WHERE lane > lanes.lane) FROM lanes WHERE lane IS NOT NULL)
  SELECT lane FROM lanes WHERE lane IS NOT NULL`;
