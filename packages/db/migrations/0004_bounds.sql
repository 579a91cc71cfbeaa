-- Business maxima, so that no sum can overflow int8 (here) or int64 (in
-- protobuf), for one trip or for a driver's lifetime totals (README, "Bounds"):
--
--   one trip:   fare <= 10^8 and tip <= 10^8 minor units (1,000,000.00),
--               distance <= 2,000,000 m (2,000 km), duration <= 24 hours
--   one driver: at most 10^7 trips, so their totals stay below
--               fare + tip 10^7 x 2 x 10^8      = 2 x 10^15 minor units
--               distance   10^7 x 2 x 10^6 m    = 2 x 10^13 m
--               duration   10^7 x 8.64 x 10^10 us = 8.64 x 10^17 us
--               ratings    10^7 x 5             = 5 x 10^7
--   each far below 2^63 - 1 ~ 9.22 x 10^18 (duration, the closest, by 10x).
--
-- The service refuses out-of-bounds fields before they get here
-- (INVALID_ARGUMENT); these constraints hold every other writer to the same
-- numbers, and a write that would take a driver past 10^7 trips fails as a
-- whole (the rollup triggers run in the writing statement), which the
-- service answers with OUT_OF_RANGE. Every constraint name ends in "_bound":
-- the database layer maps exactly those to OutOfRangeError.
--
-- The constraints are validated against existing rows: a database holding a
-- trip beyond them stops this migration, naming the constraint, rather than
-- keep totals that may overflow.

ALTER TABLE payments
  ADD CONSTRAINT payments_fare_bound CHECK (fare_minor <= 100000000),
  ADD CONSTRAINT payments_tip_bound CHECK (tip_minor <= 100000000);

ALTER TABLE trips
  ADD CONSTRAINT trips_distance_bound CHECK (distance_meters <= 2000000),
  ADD CONSTRAINT trips_duration_bound CHECK (completed_at - started_at <= interval '24 hours');

ALTER TABLE reviews
  ADD CONSTRAINT reviews_comment_bound CHECK (char_length(comment) <= 2000);

ALTER TABLE driver_stats
  ADD CONSTRAINT driver_stats_trips_bound CHECK (total_trips <= 10000000);
