-- Rollups, second version: one lock order for every path that writes them,
-- and TRUNCATE.
--
-- 0002's triggers derived a trip's (driver, day) from the trip's driver_id and
-- completed_at and the driver's time_zone as their own snapshot saw them, and
-- only then waited for the driver's driver_stats row. A time-zone change, or a
-- move of the trip to another driver or day, that committed while they waited
-- left their delta in a row that no longer owns it, for good. And a driver
-- without a driver_stats row yet had nothing to lock at all: two rebuilds of
-- that driver ran side by side.
--
-- The order now, for every write and correction:
--   1. the rows the statement itself writes (PostgreSQL locks them before any
--      AFTER trigger runs: trips, payments, reviews; drivers for a time-zone
--      change, whose UPDATE takes the very lock of step 2);
--   2. the affected drivers' rows in drivers, FOR NO KEY UPDATE, ascending id
--      (drivers always has the row, unlike driver_stats; NO KEY UPDATE does
--      not conflict with the FOR KEY SHARE of foreign-key checks, so inserting
--      a trip never waits for it, only the rollup work does);
--   3. driver_stats, then driver_daily_stats, in (driver, day) order.
-- What a day is derived from (time_zone; a trip's driver_id and completed_at)
-- is read only after step 2, by a statement whose snapshot is newer than the
-- lock (each statement of a VOLATILE function takes a fresh snapshot in READ
-- COMMITTED). Whoever changes those values holds the same driver locks until
-- it commits and recomputes the drivers from the raw rows after taking them,
-- so either it sees our write or we see its change, never neither.
--
-- These triggers assume READ COMMITTED (the service's level): under
-- REPEATABLE READ a snapshot older than the lock could miss committed trips.

-- lock_rollup_drivers takes step 2 for the given drivers.
CREATE FUNCTION lock_rollup_drivers(driver_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  SELECT 1 FROM drivers WHERE id = ANY (driver_ids) ORDER BY id FOR NO KEY UPDATE;
$$;

-- lock_trip_drivers locks the drivers that own the given trips and returns
-- them. Who owns a trip is only known by reading it, and a move may commit
-- between that read and the lock; so read again under the lock and repeat
-- until every owner is locked. A second round happens only when a move
-- committed in that gap; its extra lock may be out of ascending order, which
-- at worst makes PostgreSQL abort one of the two transactions as a deadlock
-- (whole, rollups included): never a wrong row.
CREATE FUNCTION lock_trip_drivers(trip_ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  locked bigint[] := '{}';
  owners bigint[];
BEGIN
  LOOP
    owners := array(SELECT DISTINCT driver_id FROM trips WHERE id = ANY (trip_ids) ORDER BY 1);
    IF owners <@ locked THEN
      RETURN owners;
    END IF;
    PERFORM lock_rollup_drivers(owners);
    locked := locked || owners;
  END LOOP;
END $$;

-- rebuild_driver_rollups recomputes the given drivers' rollups from raw rows,
-- under the drivers' locks (0002 locked driver_stats rows, which a driver
-- without trips does not have, and which this very function deletes).
CREATE OR REPLACE FUNCTION rebuild_driver_rollups(driver_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  SELECT lock_rollup_drivers(driver_ids);
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

-- The hot path (CreateTrip). The new rows carry driver_id and completed_at
-- themselves; only the time zone is read, from the driver rows as locked: a
-- row lock that waited for a committed time-zone change returns the row as
-- that change left it. One statement, as in 0002.
CREATE OR REPLACE FUNCTION trips_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM apply_rollup_deltas(array_agg(ROW(driver_id, day, trips, completed, cancelled, 0, 0, meters, micros, 0, 0)::rollup_delta))
  FROM (
    SELECT n.driver_id, (n.completed_at AT TIME ZONE l.time_zone)::date AS day,
           count(*) AS trips,
           count(*) FILTER (WHERE n.status = 'completed') AS completed,
           count(*) FILTER (WHERE n.status = 'cancelled') AS cancelled,
           sum(n.distance_meters) AS meters,
           sum((extract(epoch FROM n.completed_at - n.started_at) * 1000000)::int8) AS micros
    FROM new_rows n
    -- A subquery with a locking clause is never flattened: its rows are
    -- locked in its ORDER BY, all before the aggregate above can finish.
    JOIN (SELECT id, time_zone FROM drivers
          WHERE id IN (SELECT driver_id FROM new_rows)
          ORDER BY id
          FOR NO KEY UPDATE) l ON l.id = n.driver_id
    GROUP BY 1, 2
  ) deltas
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

-- A payment or a review belongs to its trip's (driver, day); the statement's
-- own rows carry only trip_id. The trips' owners are locked (as the latest
-- commit has them) in the statement that computes the deltas. A trip this
-- very transaction inserted (CreateTrip's payment: xmin is ours; a trip
-- inserted in a subtransaction fails the test and takes the slow path) cannot
-- have been moved by anyone else, so that one statement is the whole work.
-- For an older trip the trips were read before the lock was granted: read
-- again under it, and if a move committed in between and a trip now has an
-- owner not yet locked, lock that one too and compute again (see
-- lock_trip_drivers).
CREATE OR REPLACE FUNCTION payments_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  own boolean;
  locked bigint[];
  owners bigint[];
  deltas rollup_delta[];
BEGIN
  -- Fast path, one statement: lock the trips' owners and compute.
  SELECT array_agg(ROW(driver_id, day, 0, 0, 0, fare, tip, 0, 0, 0, 0)::rollup_delta), bool_and(x.own_trips), array_agg(driver_id)
  INTO deltas, own, locked
  FROM (
    SELECT t.driver_id, (t.completed_at AT TIME ZONE l.time_zone)::date AS day, sum(n.fare_minor) AS fare, sum(n.tip_minor) AS tip,
           bool_and(t.xmin::text = (txid_current() % 4294967296)::text) AS own_trips
    FROM new_rows n
    JOIN trips t ON t.id = n.trip_id
    JOIN (SELECT id, time_zone FROM drivers
          WHERE id IN (SELECT t.driver_id FROM new_rows n JOIN trips t ON t.id = n.trip_id)
          ORDER BY id
          FOR NO KEY UPDATE) l ON l.id = t.driver_id
    GROUP BY 1, 2
  ) x;
  IF NOT own THEN
    -- Older trips: the trips were read before the lock; read them again.
    LOOP
      SELECT array_agg(ROW(driver_id, day, 0, 0, 0, fare, tip, 0, 0, 0, 0)::rollup_delta), array_agg(DISTINCT driver_id)
      INTO deltas, owners
      FROM (
        SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date AS day, sum(n.fare_minor) AS fare, sum(n.tip_minor) AS tip
        FROM new_rows n
        JOIN trips t ON t.id = n.trip_id
        JOIN drivers d ON d.id = t.driver_id
        GROUP BY 1, 2
      ) x;
      EXIT WHEN owners IS NULL OR owners <@ locked;
      PERFORM lock_rollup_drivers(owners);
      locked := locked || owners;
    END LOOP;
  END IF;
  IF deltas IS NOT NULL THEN
    PERFORM apply_rollup_deltas(deltas);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reviews_rollup_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  own boolean;
  locked bigint[];
  owners bigint[];
  deltas rollup_delta[];
BEGIN
  -- Fast path, one statement: lock the trips' owners and compute.
  SELECT array_agg(ROW(driver_id, day, 0, 0, 0, 0, 0, 0, 0, rated, ratings)::rollup_delta), bool_and(x.own_trips), array_agg(driver_id)
  INTO deltas, own, locked
  FROM (
    SELECT t.driver_id, (t.completed_at AT TIME ZONE l.time_zone)::date AS day, count(*) AS rated, sum(n.rating) AS ratings,
           bool_and(t.xmin::text = (txid_current() % 4294967296)::text) AS own_trips
    FROM new_rows n
    JOIN trips t ON t.id = n.trip_id
    JOIN (SELECT id, time_zone FROM drivers
          WHERE id IN (SELECT t.driver_id FROM new_rows n JOIN trips t ON t.id = n.trip_id)
          ORDER BY id
          FOR NO KEY UPDATE) l ON l.id = t.driver_id
    GROUP BY 1, 2
  ) x;
  IF NOT own THEN
    -- Older trips: the trips were read before the lock; read them again.
    LOOP
      SELECT array_agg(ROW(driver_id, day, 0, 0, 0, 0, 0, 0, 0, rated, ratings)::rollup_delta), array_agg(DISTINCT driver_id)
      INTO deltas, owners
      FROM (
        SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date AS day, count(*) AS rated, sum(n.rating) AS ratings
        FROM new_rows n
        JOIN trips t ON t.id = n.trip_id
        JOIN drivers d ON d.id = t.driver_id
        GROUP BY 1, 2
      ) x;
      EXIT WHEN owners IS NULL OR owners <@ locked;
      PERFORM lock_rollup_drivers(owners);
      locked := locked || owners;
    END LOOP;
  END IF;
  IF deltas IS NOT NULL THEN
    PERFORM apply_rollup_deltas(deltas);
  END IF;
  RETURN NULL;
END $$;

-- Corrections of payments and reviews: recompute the trips' owners, locked
-- first. (Trips' own corrections need no such step: their transition tables
-- name every old and new driver, and rebuild_driver_rollups locks them.)
CREATE OR REPLACE FUNCTION trip_children_rollup_correct() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM rebuild_driver_rollups(lock_trip_drivers(array(SELECT trip_id FROM old_rows UNION SELECT trip_id FROM new_rows)));
  ELSE
    -- A trip deleted in the same statement is recomputed by trips' own trigger.
    PERFORM rebuild_driver_rollups(lock_trip_drivers(array(SELECT DISTINCT trip_id FROM old_rows)));
  END IF;
  RETURN NULL;
END $$;

-- TRUNCATE fires no row or statement triggers of the other kinds. Trips
-- empty (TRUNCATE trips needs CASCADE, so payments and reviews too, as does
-- TRUNCATE drivers CASCADE): no rollups are left. Payments or reviews alone:
-- their figures are zero everywhere, everything else stays.
-- The truncating transaction already holds ACCESS EXCLUSIVE on the table, so
-- no write to it runs meanwhile; a recompute that holds a driver's lock and
-- waits to read that table can deadlock with it, and PostgreSQL aborts one.
CREATE FUNCTION rollups_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'trips' THEN
    -- TRUNCATE drivers CASCADE has emptied the rollups itself, in this very
    -- command, which keeps them open: a second TRUNCATE of them is refused.
    IF EXISTS (SELECT 1 FROM driver_stats) OR EXISTS (SELECT 1 FROM driver_daily_stats) THEN
      TRUNCATE driver_daily_stats, driver_stats;
    END IF;
  ELSIF TG_TABLE_NAME = 'payments' THEN
    UPDATE driver_daily_stats SET fare_minor = 0, tip_minor = 0 WHERE fare_minor <> 0 OR tip_minor <> 0;
    UPDATE driver_stats SET fare_minor = 0, tip_minor = 0 WHERE fare_minor <> 0 OR tip_minor <> 0;
  ELSIF TG_TABLE_NAME = 'reviews' THEN
    UPDATE driver_daily_stats SET rated_trips = 0, rating_sum = 0 WHERE rated_trips <> 0 OR rating_sum <> 0;
    UPDATE driver_stats SET rated_trips = 0, rating_sum = 0 WHERE rated_trips <> 0 OR rating_sum <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER trips_rollup_truncate AFTER TRUNCATE ON trips
  FOR EACH STATEMENT EXECUTE FUNCTION rollups_truncated();
CREATE TRIGGER payments_rollup_truncate AFTER TRUNCATE ON payments
  FOR EACH STATEMENT EXECUTE FUNCTION rollups_truncated();
CREATE TRIGGER reviews_rollup_truncate AFTER TRUNCATE ON reviews
  FOR EACH STATEMENT EXECUTE FUNCTION rollups_truncated();
