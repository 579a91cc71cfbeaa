-- Rollups: per-driver running totals and per-driver per-day rows (the day in
-- the driver's own time zone), kept by statement-level triggers in the same
-- transaction as every trip, payment or review write, so a reader never sees a
-- trip without its totals. GetStats reads one row instead of a driver's history.
--
-- Trips, payments and reviews are facts: INSERT is the normal path and is
-- applied incrementally (one upsert per driver and per day touched, locking
-- the driver's total first, then its days, in id order: concurrent writers for
-- one driver serialize on that row and lose no update). UPDATE and DELETE are
-- corrections: the drivers they touch are recomputed from the raw rows.

CREATE TABLE driver_stats (
  driver_id       bigint PRIMARY KEY REFERENCES drivers (id) ON DELETE CASCADE,
  total_trips     bigint NOT NULL DEFAULT 0,
  completed_trips bigint NOT NULL DEFAULT 0,
  cancelled_trips bigint NOT NULL DEFAULT 0,
  fare_minor      bigint NOT NULL DEFAULT 0,
  tip_minor       bigint NOT NULL DEFAULT 0,
  distance_meters bigint NOT NULL DEFAULT 0,
  duration_micros bigint NOT NULL DEFAULT 0,
  rated_trips     bigint NOT NULL DEFAULT 0,
  rating_sum      bigint NOT NULL DEFAULT 0
);

CREATE TABLE driver_daily_stats (
  driver_id       bigint NOT NULL REFERENCES drivers (id) ON DELETE CASCADE,
  -- The trip's completion day in the driver's time zone.
  day             date NOT NULL,
  total_trips     bigint NOT NULL DEFAULT 0,
  completed_trips bigint NOT NULL DEFAULT 0,
  cancelled_trips bigint NOT NULL DEFAULT 0,
  fare_minor      bigint NOT NULL DEFAULT 0,
  tip_minor       bigint NOT NULL DEFAULT 0,
  distance_meters bigint NOT NULL DEFAULT 0,
  duration_micros bigint NOT NULL DEFAULT 0,
  rated_trips     bigint NOT NULL DEFAULT 0,
  rating_sum      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (driver_id, day)
);

-- Idempotency key of CreateTrip: a retried request finds its trip.
ALTER TABLE trips ADD COLUMN request_id uuid;
CREATE UNIQUE INDEX trips_request_id_key ON trips (request_id);

-- One delta per (driver, day): applied to the day row and to the driver's total.
CREATE TYPE rollup_delta AS (
  driver_id       bigint,
  day             date,
  total_trips     bigint,
  completed_trips bigint,
  cancelled_trips bigint,
  fare_minor      bigint,
  tip_minor       bigint,
  distance_meters bigint,
  duration_micros bigint,
  rated_trips     bigint,
  rating_sum      bigint
);

CREATE FUNCTION apply_rollup_deltas(deltas rollup_delta[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO driver_stats AS s
  SELECT driver_id, sum(total_trips), sum(completed_trips), sum(cancelled_trips), sum(fare_minor),
         sum(tip_minor), sum(distance_meters), sum(duration_micros), sum(rated_trips), sum(rating_sum)
  FROM unnest(deltas)
  GROUP BY driver_id
  ORDER BY driver_id
  ON CONFLICT (driver_id) DO UPDATE SET
    total_trips     = s.total_trips     + EXCLUDED.total_trips,
    completed_trips = s.completed_trips + EXCLUDED.completed_trips,
    cancelled_trips = s.cancelled_trips + EXCLUDED.cancelled_trips,
    fare_minor      = s.fare_minor      + EXCLUDED.fare_minor,
    tip_minor       = s.tip_minor       + EXCLUDED.tip_minor,
    distance_meters = s.distance_meters + EXCLUDED.distance_meters,
    duration_micros = s.duration_micros + EXCLUDED.duration_micros,
    rated_trips     = s.rated_trips     + EXCLUDED.rated_trips,
    rating_sum      = s.rating_sum      + EXCLUDED.rating_sum;

  INSERT INTO driver_daily_stats AS s
  SELECT driver_id, day, sum(total_trips), sum(completed_trips), sum(cancelled_trips), sum(fare_minor),
         sum(tip_minor), sum(distance_meters), sum(duration_micros), sum(rated_trips), sum(rating_sum)
  FROM unnest(deltas)
  GROUP BY driver_id, day
  ORDER BY driver_id, day
  ON CONFLICT (driver_id, day) DO UPDATE SET
    total_trips     = s.total_trips     + EXCLUDED.total_trips,
    completed_trips = s.completed_trips + EXCLUDED.completed_trips,
    cancelled_trips = s.cancelled_trips + EXCLUDED.cancelled_trips,
    fare_minor      = s.fare_minor      + EXCLUDED.fare_minor,
    tip_minor       = s.tip_minor       + EXCLUDED.tip_minor,
    distance_meters = s.distance_meters + EXCLUDED.distance_meters,
    duration_micros = s.duration_micros + EXCLUDED.duration_micros,
    rated_trips     = s.rated_trips     + EXCLUDED.rated_trips,
    rating_sum      = s.rating_sum      + EXCLUDED.rating_sum;
$$;

-- rebuild_driver_rollups recomputes the given drivers' rollups from raw rows.
CREATE FUNCTION rebuild_driver_rollups(driver_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  -- Lock the drivers' totals first, as incremental writers do.
  SELECT 1 FROM driver_stats WHERE driver_id = ANY (driver_ids) ORDER BY driver_id FOR UPDATE;
  DELETE FROM driver_daily_stats WHERE driver_id = ANY (driver_ids);
  DELETE FROM driver_stats WHERE driver_id = ANY (driver_ids);
  INSERT INTO driver_daily_stats
  SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date,
         count(*), count(*) FILTER (WHERE t.status = 'completed'), count(*) FILTER (WHERE t.status = 'cancelled'),
         coalesce(sum(p.fare_minor), 0), coalesce(sum(p.tip_minor), 0), sum(t.distance_meters),
         sum((extract(epoch FROM t.completed_at - t.started_at) * 1000000)::int8),
         count(r.rating), coalesce(sum(r.rating), 0)
  FROM trips t
  JOIN drivers d ON d.id = t.driver_id
  LEFT JOIN payments p ON p.trip_id = t.id
  LEFT JOIN reviews r ON r.trip_id = t.id
  WHERE t.driver_id = ANY (driver_ids)
  GROUP BY 1, 2;
  INSERT INTO driver_stats
  SELECT driver_id, sum(total_trips), sum(completed_trips), sum(cancelled_trips), sum(fare_minor), sum(tip_minor),
         sum(distance_meters), sum(duration_micros), sum(rated_trips), sum(rating_sum)
  FROM driver_daily_stats
  WHERE driver_id = ANY (driver_ids)
  GROUP BY driver_id;
$$;

CREATE FUNCTION trips_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM apply_rollup_deltas(array_agg(ROW(driver_id, day, trips, completed, cancelled, 0, 0, meters, micros, 0, 0)::rollup_delta))
  FROM (
    SELECT n.driver_id, (n.completed_at AT TIME ZONE d.time_zone)::date AS day,
           count(*) AS trips,
           count(*) FILTER (WHERE n.status = 'completed') AS completed,
           count(*) FILTER (WHERE n.status = 'cancelled') AS cancelled,
           sum(n.distance_meters) AS meters,
           sum((extract(epoch FROM n.completed_at - n.started_at) * 1000000)::int8) AS micros
    FROM new_rows n
    JOIN drivers d ON d.id = n.driver_id
    GROUP BY 1, 2
  ) deltas
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE FUNCTION payments_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM apply_rollup_deltas(array_agg(ROW(driver_id, day, 0, 0, 0, fare, tip, 0, 0, 0, 0)::rollup_delta))
  FROM (
    SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date AS day,
           sum(n.fare_minor) AS fare, sum(n.tip_minor) AS tip
    FROM new_rows n
    JOIN trips t ON t.id = n.trip_id
    JOIN drivers d ON d.id = t.driver_id
    GROUP BY 1, 2
  ) deltas
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE FUNCTION reviews_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM apply_rollup_deltas(array_agg(ROW(driver_id, day, 0, 0, 0, 0, 0, 0, 0, rated, ratings)::rollup_delta))
  FROM (
    SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date AS day,
           count(*) AS rated, sum(n.rating) AS ratings
    FROM new_rows n
    JOIN trips t ON t.id = n.trip_id
    JOIN drivers d ON d.id = t.driver_id
    GROUP BY 1, 2
  ) deltas
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

-- Corrections: recompute every driver the changed rows belonged to.
CREATE FUNCTION trips_rollup_correct() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM rebuild_driver_rollups(array(SELECT driver_id FROM old_rows UNION SELECT driver_id FROM new_rows ORDER BY 1));
  ELSE
    PERFORM rebuild_driver_rollups(array(SELECT DISTINCT driver_id FROM old_rows ORDER BY 1));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION trip_children_rollup_correct() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM rebuild_driver_rollups(array(
      SELECT DISTINCT t.driver_id FROM trips t
      WHERE t.id IN (SELECT trip_id FROM old_rows UNION SELECT trip_id FROM new_rows) ORDER BY 1));
  ELSE
    -- A trip deleted in the same statement is recomputed by trips' own trigger.
    PERFORM rebuild_driver_rollups(array(
      SELECT DISTINCT t.driver_id FROM trips t WHERE t.id IN (SELECT trip_id FROM old_rows) ORDER BY 1));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER trips_rollup_insert AFTER INSERT ON trips
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trips_rollup_insert();
CREATE TRIGGER trips_rollup_update AFTER UPDATE ON trips
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trips_rollup_correct();
CREATE TRIGGER trips_rollup_delete AFTER DELETE ON trips
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION trips_rollup_correct();

CREATE TRIGGER payments_rollup_insert AFTER INSERT ON payments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_rollup_insert();
CREATE TRIGGER payments_rollup_update AFTER UPDATE ON payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trip_children_rollup_correct();
CREATE TRIGGER payments_rollup_delete AFTER DELETE ON payments
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION trip_children_rollup_correct();

CREATE TRIGGER reviews_rollup_insert AFTER INSERT ON reviews
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reviews_rollup_insert();
CREATE TRIGGER reviews_rollup_update AFTER UPDATE ON reviews
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trip_children_rollup_correct();
CREATE TRIGGER reviews_rollup_delete AFTER DELETE ON reviews
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION trip_children_rollup_correct();

-- A driver who moves to another time zone has other days: recompute them.
CREATE FUNCTION drivers_time_zone_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM rebuild_driver_rollups(ARRAY[NEW.id]);
  RETURN NULL;
END $$;

CREATE TRIGGER drivers_rollup_time_zone AFTER UPDATE OF time_zone ON drivers
  FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION drivers_time_zone_changed();

-- Backfill from the rows that exist already. Readers of the previous version
-- keep reading raw rows meanwhile; this version reads rollups only after
-- this migration has committed.
SELECT rebuild_driver_rollups(array(SELECT id FROM drivers ORDER BY id));
