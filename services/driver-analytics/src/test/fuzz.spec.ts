// Random, extreme and mutated requests to every RPC never yield INTERNAL (or
// UNKNOWN, DATA_LOSS) and never leak internals, nor take the process down:
//
//  - typed messages over gRPC, gRPC-Web, Connect and grpc-js: int64 fields at
//    their extremes and around the business maxima, Timestamps across the
//    protobuf range and just outside it (nanos 999,999,999 on 9999-12-31),
//    strings of any code point (U+0000, controls, noncharacters, astral) at
//    and beyond their maximum lengths, page tokens random or mutated, days
//    from 0001 to 9999 and beyond;
//  - raw bodies posted with fetch: Connect binary and JSON (random bytes,
//    truncated or bit-flipped valid messages, JSON with out-of-range numbers,
//    lone surrogates, NUL escapes, garbage, bodies over the 64 KiB read
//    limit, gzip: real, truncated, garbage, a bomb) and gRPC-Web frames
//    (good, truncated, lying lengths, compressed, oversized).
//
// After the run the rollups must still equal the raw rows and every trip a
// call was told was created must exist. FUZZ_RUNS sets the number of cases
// (default 500, the test suite's); `pnpm --filter @driver-analytics/server run
// fuzz` runs 100,000. A failure prints the shrunk case.
import { create, fromBinary, toBinary, toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { getDriverStatsLive } from "@driver-analytics/db";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  CreateReviewRequestSchema,
  CreateTripRequestSchema,
  CreateTripResponseSchema,
  DriverAnalytics,
  GetEarningsSeriesRequestSchema,
  GetStatsRequestSchema,
  ListTripsRequestSchema,
  SeriesGranularity,
  TripStatus,
} from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MIN_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z
const READ_MAX_BYTES = 64 * 1024;
const FORBIDDEN = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);
// connect-node answered INTERNAL to a body it could not parse or inflate
// before any interceptor runs; patches/@connectrpc__connect*.patch make those
// INVALID_ARGUMENT, and the fuzz holds them to it like every other answer.

/**
 * LEAK matches what must never reach a caller: SQL, PostgreSQL's own words,
 * stack frames, file paths, hosts and ports. Our messages ("rating must be
 * from 1 to 5", "... from 0001-01-01 to 9999-12-31") must not match.
 */
export const LEAK = new RegExp(
  [
    String.raw`\bselect\b[\s\S]*\bfrom\b`,
    String.raw`\b(insert\s+into|update\s+\w+\s+set|delete\s+from)\b`,
    String.raw`\b(postgres|postgresql|pg_\w+|sqlstate|plpgsql)\b`,
    String.raw`\b(syntax error|relation "|column "|violates|duplicate key|constraint "|invalid byte sequence)`,
    String.raw`\bout of range for type\b`,
    String.raw`\n\s*at\s|\bat\s+\S+\s+\(|\.(js|ts|mjs):\d+`,
    String.raw`node_modules|/work/|/home/|/tmp/`,
    String.raw`\b(localhost|127\.0\.0\.1|::1)\b|:\d{4,5}\b`,
    String.raw`\b(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)\b`,
    String.raw`\b(TypeError|RangeError|ReferenceError|SyntaxError)\b`,
  ].join("|"),
  "i",
);

type MethodName = "getStats" | "listTrips" | "getEarningsSeries" | "createTrip" | "createReview";
const METHODS: Record<MethodName, { path: string; input: DescMessage }> = {
  getStats: { path: "GetStats", input: GetStatsRequestSchema },
  listTrips: { path: "ListTrips", input: ListTripsRequestSchema },
  getEarningsSeries: { path: "GetEarningsSeries", input: GetEarningsSeriesRequestSchema },
  createTrip: { path: "CreateTrip", input: CreateTripRequestSchema },
  createReview: { path: "CreateReview", input: CreateReviewRequestSchema },
};

describe("the leak check", () => {
  it("flags internals and not our messages", () => {
    for (const ours of [
      "rating must be from 1 to 5",
      "start_time must be a valid timestamp, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z",
      'start_day must be a day "YYYY-MM-DD" from 0001-01-01 to 9999-12-31',
      "fare.amount_minor must be at most 100000000 (1,000,000.00 in minor units)",
      "the write would take a stored value or total beyond its bounds",
      "comment must not contain U+0000 (NUL)",
      "page_token is invalid",
      "a trip lasts at most 24 hours (complete_time - start_time)",
      "server is at capacity, retry later",
      "driver not found",
      "protocol error: promised 12 bytes in enveloped message, got 3 bytes",
      "message is larger than configured readMaxBytes 65536",
    ]) {
      expect(LEAK.test(ours), ours).toBe(false);
    }
    for (const leak of [
      "SELECT id FROM drivers WHERE id = $1",
      'duplicate key value violates unique constraint "trips_pkey"',
      'invalid byte sequence for encoding "UTF8": 0x00',
      "bigint out of range for type int8",
      "connect ECONNREFUSED 127.0.0.1:5432",
      "Error: boom\n    at Database.query (/work/packages/db/dist/database.js:120:11)",
      "TypeError: Cannot read properties of undefined",
      "relation \"trips\" does not exist",
      "password authentication failed for user postgres",
    ]) {
      expect(LEAK.test(leak), leak).toBe(true);
    }
  });
});

describe("fuzzing every RPC, typed and raw", () => {
  let t: TestServer;
  let tripIds: bigint[] = [];
  const tokens: Record<"driver1" | "driver2", string> = { driver1: "", driver2: "" };

  beforeAll(async () => {
    t = await startTestServer({ poolSize: 4 });
    tripIds = await insertFixtures(t.testDb.connectionString, {
      drivers: [
        { id: 1n, currencyCode: "EUR", timeZone: "Europe/Paris" },
        { id: 2n, currencyCode: "USD", timeZone: "Pacific/Kiritimati" }, // UTC+14
        { id: 3n, currencyCode: "JPY", timeZone: "Pacific/Pago_Pago" }, // UTC-11
      ],
      trips: Array.from({ length: 12 }, (_, i) => ({
        driverId: BigInt((i % 2) + 1),
        completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 60_000_000n,
        ...(i % 3 === 0 ? { review: { rating: 4, comment: "ünïcødé 🚕" } } : {}),
      })),
    });
    tokens.driver1 = (await t.connect.listTrips({ driverId: 1n, pageSize: 2 })).nextPageToken;
    tokens.driver2 = (await t.connect.listTrips({ driverId: 2n, pageSize: 2 })).nextPageToken;
    expect(tokens.driver1).not.toBe("");
  });

  afterAll(async () => {
    await t.close();
  });

  // ---- values -------------------------------------------------------------

  const int64Edges = fc.constantFrom(
    INT64_MIN,
    INT64_MIN + 1n,
    -(2n ** 31n),
    -1n,
    0n,
    1n,
    2n ** 31n - 1n,
    2n ** 32n,
    2n ** 53n + 1n,
    100_000_000n, // the money maximum
    100_000_001n,
    2_000_000n, // the distance maximum
    2_000_001n,
    INT64_MAX - 1n,
    INT64_MAX,
  );
  const int64 = fc.oneof(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), int64Edges, fc.bigInt({ min: -3n, max: 300n }));
  const int32 = fc.oneof(
    fc.integer(),
    fc.constantFrom(-(2 ** 31), -1, 0, 1, 5, 6, 999, 1000, 1001, 2 ** 31 - 1),
    fc.integer({ min: -2, max: 1_100 }),
  );
  const driverId = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1n, 2n, 3n) }, { weight: 2, arbitrary: int64 });

  const nanos = fc.oneof(
    fc.integer({ min: 0, max: 999_999_999 }),
    fc.constantFrom(0, 1, 999, 1_000, 999_999_000, 999_999_001, 999_999_999),
  );
  const validTimestamp = fc.oneof(
    fc.record({ seconds: fc.bigInt({ min: MIN_SECONDS, max: MAX_SECONDS }), nanos }),
    fc.record({ seconds: fc.constantFrom(MIN_SECONDS, MIN_SECONDS + 1n, MAX_SECONDS - 1n, MAX_SECONDS), nanos }),
    fc.record({ seconds: fc.bigInt({ min: 1_749_990_000n, max: 1_750_010_000n }), nanos }), // where the fixtures are
  );
  // Just outside the range, and anywhere in int64 x int32.
  const wildTimestamp = fc.oneof(
    fc.record({
      seconds: fc.constantFrom(MIN_SECONDS - 1n, MAX_SECONDS + 1n, INT64_MIN, INT64_MAX, 0n),
      nanos: fc.oneof(nanos, fc.constantFrom(-1, 1_000_000_000, 2 ** 31 - 1, -(2 ** 31))),
    }),
    fc.record({ seconds: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), nanos: fc.integer() }),
  );
  const timestamp = fc.oneof({ weight: 3, arbitrary: validTimestamp }, { weight: 1, arbitrary: wildTimestamp });
  const optionalTimestamp = fc.option(timestamp, { nil: undefined, freq: 2 });

  const specialCodePoint = fc.constantFrom(
    "\u0000", "\u0001", "\t", "\n", "\u001f", "\u007f", "\u0085", "\u00a0", "\u200b", "\u2028", "\u202e",
    "\ufeff", "\ufffd", "\ufffe", "\uffff", "\u{1f695}", "\u{10ffff}", "\ud800", "\udfff", "'", '"', "\\", "%", "$1",
  );
  const codePoint = fc.oneof(
    fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)), // includes lone surrogate halves
    specialCodePoint,
  );
  const text = fc.oneof(
    fc.string({ unit: codePoint, maxLength: 24 }),
    fc.string({ unit: "binary", maxLength: 24 }),
    fc.tuple(codePoint, fc.constantFrom(1_999, 2_000, 2_001)).map(([c, n]) => c.repeat(n)), // around the maximum length
    fc.constantFrom("x".repeat(2_000), "🚕".repeat(2_000), "x".repeat(2_001), "é".repeat(10_000)),
  );

  const uuid = fc.oneof(
    fc.uuid(),
    fc.uuid().map((u) => u.toUpperCase()),
    fc.constantFrom("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"), // retried keys
    text,
  );
  const currency = fc.oneof(fc.constantFrom("EUR", "USD", "JPY"), fc.constantFrom("XYZ", "eur", "", "EUR\u0000"), text);
  const amount = fc.oneof({ weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 100_000_000n }) }, { weight: 2, arbitrary: int64 });
  const money = (code: fc.Arbitrary<string>) =>
    fc.option(fc.record({ currencyCode: code, amountMinor: amount }), { nil: undefined, freq: 6 });

  // ---- requests -----------------------------------------------------------

  const getStats = fc
    .record({ driverId, startTime: optionalTimestamp, endTime: optionalTimestamp })
    .map((init) => create(GetStatsRequestSchema, init));

  const mutate = (token: string) =>
    fc.oneof(
      fc.nat({ max: Math.max(0, token.length - 1) }).map((n) => token.slice(0, n)),
      fc.tuple(fc.nat({ max: token.length - 1 }), fc.integer({ min: 0, max: 6 })).map(([i, bit]) => {
        const code = token.charCodeAt(i) ^ (1 << bit);
        return token.slice(0, i) + String.fromCharCode(code) + token.slice(i + 1);
      }),
      fc.string({ maxLength: 8 }).map((extra) => token + extra),
      fc.constant(token.split("").reverse().join("")),
      fc.constant(Buffer.from(token, "base64url").toString("base64")),
      fc.integer({ min: 1, max: 3 }).map((bits) => {
        // Same bytes, other unused bits in the last character: not canonical.
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) | bits];
      }),
    );
  // Built lazily: the tokens exist only after beforeAll.
  const pageToken = () =>
    fc.oneof(
      fc.constant(""),
      fc.constant(tokens.driver1),
      fc.constant(tokens.driver2),
      fc.constantFrom("driver1" as const, "driver2" as const).chain((k) => mutate(tokens[k])),
      text,
      fc.base64String({ maxLength: 200 }),
      fc.constantFrom("A".repeat(71), "A".repeat(5_000), "🚕".repeat(20_000), "%00", "../../etc/passwd"),
    );
  const listTrips = () =>
    fc
      .record({ driverId, pageSize: int32, pageToken: pageToken(), startTime: optionalTimestamp, endTime: optionalTimestamp })
      .map((init) => create(ListTripsRequestSchema, init));

  const FIRST_DAY = -719_162; // 0001-01-01
  const LAST_DAY = 2_932_896; // 9999-12-31
  const formatDay = (epochDay: number) => {
    const iso = new Date(epochDay * 86_400_000).toISOString(); // "0001-01-01T..." or "+010000-01-01T..."
    return iso.slice(0, iso.indexOf("T"));
  };
  const epochDay = fc.oneof(
    fc.integer({ min: FIRST_DAY, max: LAST_DAY }),
    fc.constantFrom(FIRST_DAY - 1, FIRST_DAY, FIRST_DAY + 6, LAST_DAY - 400, LAST_DAY - 1, LAST_DAY, LAST_DAY + 1),
    fc.integer({ min: 20_200, max: 20_300 }), // 2025, the fixtures
  );
  const earningsSeries = fc
    .record({
      driverId,
      start: epochDay,
      span: fc.oneof(fc.integer({ min: -2, max: 400 }), fc.integer({ min: 0, max: 2_000 }), fc.integer()),
      granularity: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2) }, { weight: 1, arbitrary: int32 }),
      garble: fc.option(fc.tuple(fc.boolean(), text), { nil: undefined, freq: 4 }),
    })
    .map(({ driverId, start, span, granularity, garble }) => {
      let startDay = formatDay(start);
      let endDay = formatDay(Math.max(-100_000_000, Math.min(100_000_000, start + span)));
      if (garble !== undefined) {
        if (garble[0]) startDay = garble[1];
        else endDay = garble[1];
      }
      return create(GetEarningsSeriesRequestSchema, {
        driverId,
        startDay,
        endDay,
        granularity: granularity as SeriesGranularity,
      });
    });

  const MICROS_PER_DAY = 86_400_000_000n;
  const nowMicros = BigInt(Date.now()) * 1000n;
  const toTimestamp = (micros: bigint, extraNanos: number) => ({
    seconds: micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n),
    nanos: Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n) * 1000 + extraNanos,
  });
  const sometimes = <T, U>(usual: fc.Arbitrary<T>, wild: fc.Arbitrary<U>) =>
    fc.oneof({ weight: 5, arbitrary: usual }, { weight: 1, arbitrary: wild });
  // Mostly well-formed trips (so that writes succeed too), each field sometimes wild.
  const tripTimes = fc.oneof(
    { weight: 3, arbitrary: fc
      .record({
        // completed up to 2 years ago, or right around the year-1 edge
        completedAgo: sometimes(
          fc.bigInt({ min: 0n, max: 730n * MICROS_PER_DAY }),
          // right at year 1 (start and completion both there), or in the 5 minutes of allowed clock skew
          fc.constantFrom(nowMicros - MIN_SECONDS * 1_000_000n - MICROS_PER_DAY, -1n, -299_000_000n, -301_000_000n),
        ),
        duration: sometimes(fc.bigInt({ min: 0n, max: MICROS_PER_DAY }), fc.constantFrom(0n, MICROS_PER_DAY, MICROS_PER_DAY + 1n)),
        extraNanos: fc.constantFrom(0, 1, 999),
      })
      .map(({ completedAgo, duration, extraNanos }) => {
        const completed = nowMicros - completedAgo;
        return { startTime: toTimestamp(completed - duration, extraNanos), completeTime: toTimestamp(completed, extraNanos) };
      }) },
    { weight: 1, arbitrary: fc.record({ startTime: fc.option(timestamp, { nil: undefined, freq: 8 }), completeTime: fc.option(timestamp, { nil: undefined, freq: 8 }) }) },
  );
  const createTrip = fc
    .record({
      requestId: sometimes(fc.uuid(), uuid),
      driverId: sometimes(fc.constantFrom(1n, 2n, 3n), driverId),
      status: sometimes(fc.constantFrom(TripStatus.COMPLETED, TripStatus.CANCELLED), int32),
      times: tripTimes,
      distanceMeters: sometimes(fc.bigInt({ min: 0n, max: 2_000_000n }), int64),
      currency: sometimes(fc.constant("driver"), currency),
      fare: sometimes(fc.bigInt({ min: 0n, max: 100_000_000n }), amount),
      tip: fc.option(sometimes(fc.bigInt({ min: 0n, max: 100_000_000n }), amount), { nil: undefined, freq: 4 }),
      tipCurrency: sometimes(fc.constant("driver"), currency),
    })
    .map((r) => {
      const driverCurrency = ({ 1: "EUR", 2: "USD", 3: "JPY" } as Record<string, string>)[String(r.driverId)] ?? "EUR";
      const code = r.currency === "driver" ? driverCurrency : r.currency;
      return create(CreateTripRequestSchema, {
        requestId: r.requestId,
        driverId: r.driverId,
        status: r.status as TripStatus,
        ...r.times,
        distanceMeters: r.distanceMeters,
        fare: { currencyCode: code, amountMinor: r.fare },
        ...(r.tip === undefined
          ? {}
          : { tip: { currencyCode: r.tipCurrency === "driver" ? code : r.tipCurrency, amountMinor: r.tip } }),
      });
    });
  const createTripWild = fc
    .record({
      requestId: uuid,
      driverId,
      status: int32,
      startTime: fc.option(timestamp, { nil: undefined }),
      completeTime: fc.option(timestamp, { nil: undefined }),
      distanceMeters: int64,
      fare: money(currency),
      tip: money(currency),
    })
    .map((init) => create(CreateTripRequestSchema, { ...init, status: init.status as TripStatus }));
  const createReview = () =>
    fc
      .record({
        tripId: fc.oneof(fc.constantFrom(...tripIds), fc.bigInt({ min: 1n, max: 2_000n }), int64),
        rating: sometimes(fc.integer({ min: 1, max: 5 }), int32),
        comment: sometimes(fc.constantFrom("", "great ride", "ok 🚕"), text),
      })
      .map((init) => create(CreateReviewRequestSchema, init));

  const typedRequest = () =>
    fc.oneof(
      getStats.map((request) => ({ method: "getStats" as const, request })),
      listTrips().map((request) => ({ method: "listTrips" as const, request })),
      earningsSeries.map((request) => ({ method: "getEarningsSeries" as const, request })),
      fc.oneof(createTrip, createTripWild).map((request) => ({ method: "createTrip" as const, request })),
      createReview().map((request) => ({ method: "createReview" as const, request })),
    );

  // ---- raw bodies ---------------------------------------------------------

  const envelope = (flags: number, payload: Uint8Array, length = payload.length) => {
    const frame = new Uint8Array(5 + payload.length);
    frame[0] = flags;
    new DataView(frame.buffer).setUint32(1, length >>> 0);
    frame.set(payload, 5);
    return frame;
  };
  const jsonEdge = fc.oneof(
    fc.constantFrom(
      "9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999",
      "1e400", "-0", "0x10", " 1", "1.5", "NaN", "Infinity",
      "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "10000-01-01T00:00:00Z", "0000-12-31T23:59:59Z",
      "9999-12-31T23:59:59.9999999999Z", "2025-06-02T08:00:00+14:00", "2025-02-30T00:00:00Z", "\u0000", "\ud800",
      "SERIES_GRANULARITY_WEEK", "TRIP_STATUS_COMPLETED", "TRIP_STATUS_NOPE",
    ),
    fc.constantFrom(1e308, -1e308, Number("9007199254740993"), -0, 0.5, 2 ** 63, true, null),
    fc.constant([]),
    fc.constant({}),
    text,
    int64.map(String),
  );
  const rawJson = (method: MethodName) =>
    fc.oneof(
      // A typed message's JSON, sometimes truncated.
      typedFor(method).chain((message) => {
        let json: string;
        try {
          json = JSON.stringify(toJson(METHODS[method].input, message as never));
        } catch {
          // Not expressible in canonical JSON (a Timestamp outside its range): send the fields as they are.
          json = JSON.stringify(message, (key, v: unknown) => (key === "$typeName" ? undefined : typeof v === "bigint" ? String(v) : v));
        }
        return fc.oneof(fc.constant(json), fc.nat({ max: json.length }).map((n) => json.slice(0, n)));
      }),
      // Field by field, edge values of any JSON type.
      fc
        .dictionary(
          fc.constantFrom(
            ...METHODS[method].input.fields.map((f) => f.jsonName),
            "unknownField",
            "driver_id",
            "@type",
          ),
          fc.oneof(jsonEdge, fc.record({ seconds: jsonEdge, currencyCode: jsonEdge, amountMinor: jsonEdge }, { requiredKeys: [] })),
          { maxKeys: 6 },
        )
        .map((o) => JSON.stringify(o)),
      fc.json({ maxDepth: 3 }),
      fc.string({ unit: "binary", maxLength: 100 }),
      fc.constantFrom("", "{", "}", "null", "[]", '{"driverId":1}{"driverId":2}', '{"comment":"\\u0000"}', '{"comment":"\\ud800"}'),
    );
  const rawBinary = (method: MethodName) =>
    fc.oneof(
      typedFor(method).chain((message) => {
        const bytes = toBinary(METHODS[method].input, message as never);
        return fc.oneof(
          fc.constant(bytes),
          fc.nat({ max: bytes.length }).map((n) => bytes.slice(0, n)),
          fc.tuple(fc.nat({ max: Math.max(0, bytes.length - 1) }), fc.nat({ max: 7 })).map(([i, bit]) => {
            const copy = bytes.slice();
            if (copy.length > 0) copy[i]! ^= 1 << bit;
            return copy;
          }),
        );
      }),
      fc.uint8Array({ maxLength: 200 }),
      // Field headers with wire types and lengths that lie.
      fc.constantFrom(
        Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
        Uint8Array.of(0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f),
        Uint8Array.of(0x22, 0x02, 0x08),
        Uint8Array.of(0x0f),
        Uint8Array.of(0x1a, 0x03, 0xc3, 0x28, 0x41), // invalid UTF-8 in a string field
      ),
    );
  const oversized = fc
    .record({ extra: fc.integer({ min: 1, max: 16 * 1024 }), byte: fc.integer({ min: 0, max: 255 }) })
    .map(({ extra, byte }) => new Uint8Array(READ_MAX_BYTES + extra).fill(byte));

  type RawCase = {
    method: MethodName;
    protocol: "connect-proto" | "connect-json" | "grpc-web";
    body: Uint8Array | string;
    oversized: boolean;
    /** Content-Encoding (Connect) or grpc-encoding (gRPC-Web) to declare. */
    encoding?: "gzip";
  };
  // A gzip bomb: 1 MiB of zeros in about 1 KiB.
  const GZIP_BOMB = gzipSync(new Uint8Array(1024 * 1024));
  const rawCase = () =>
    fc.constantFrom<MethodName>("getStats", "listTrips", "getEarningsSeries", "createTrip", "createReview").chain((method) =>
      fc.oneof(
        { weight: 3, arbitrary: rawBinary(method).map((body): RawCase => ({ method, protocol: "connect-proto", body, oversized: false })) },
        { weight: 3, arbitrary: rawJson(method).map((body): RawCase => ({ method, protocol: "connect-json", body, oversized: false })) },
        { weight: 3, arbitrary: fc
          .tuple(rawBinary(method), fc.oneof({ weight: 4, arbitrary: fc.constant("exact") }, { weight: 1, arbitrary: fc.constantFrom("short", "long", "flag", "two", "none") }))
          .map(([payload, how]): RawCase => {
            let body: Uint8Array;
            if (how === "exact") body = envelope(0, payload);
            else if (how === "short") body = envelope(0, payload).slice(0, 5 + Math.floor(payload.length / 2));
            else if (how === "long") body = envelope(0, payload, payload.length + 10);
            else if (how === "flag") body = envelope(0x01, payload); // compressed, with no grpc-encoding
            else if (how === "two") body = Buffer.concat([envelope(0, payload), envelope(0, payload)]);
            else body = payload;
            return { method, protocol: "grpc-web", body, oversized: false };
          }) },
        // Compressed bodies: real gzip of a typed message, truncated gzip, garbage, a bomb.
        { weight: 1, arbitrary: fc
          .tuple(rawBinary(method), fc.constantFrom("gzip", "truncated", "garbage", "bomb"), fc.constantFrom("connect-proto" as const, "grpc-web" as const))
          .map(([payload, how, protocol]): RawCase => {
            let data: Uint8Array = gzipSync(payload);
            if (how === "truncated") data = data.slice(0, Math.max(1, data.length - 4));
            if (how === "garbage") data = payload;
            if (how === "bomb") data = GZIP_BOMB;
            const body = protocol === "grpc-web" ? envelope(0x01, data) : data;
            return { method, protocol, body, oversized: how === "bomb", encoding: "gzip" };
          }) },
        // Over the 64 KiB read limit: one case in ten.
        { weight: 1, arbitrary: fc.oneof(
          oversized.map((body): RawCase => ({ method, protocol: "connect-proto", body, oversized: true })),
          oversized.map((body): RawCase => ({ method, protocol: "grpc-web", body: envelope(0, body), oversized: true })),
          fc.integer({ min: 1, max: 8 * 1024 }).map(
            (extra): RawCase => ({ method, protocol: "connect-json", body: `{"comment":"${"x".repeat(READ_MAX_BYTES + extra)}"}`, oversized: true }),
          ),
        ) },
      ),
    );

  function typedFor(method: MethodName): fc.Arbitrary<unknown> {
    switch (method) {
      case "getStats":
        return getStats;
      case "listTrips":
        return listTrips();
      case "getEarningsSeries":
        return earningsSeries;
      case "createTrip":
        return createTrip;
      case "createReview":
        return createReview();
    }
  }

  // ---- calling ------------------------------------------------------------

  interface Outcome {
    code: Code | "OK";
    message: string;
    /** A trip the server said it created. */
    createdTripId?: bigint;
  }

  async function callTyped(method: MethodName, request: unknown, via: "grpc" | "connect" | "grpcWeb" | "grpcJs"): Promise<Outcome> {
    try {
      let response: unknown;
      if (via === "grpcJs") {
        const m = DriverAnalytics.method[method] as unknown as { name: string; input: DescMessage; output: DescMessage };
        response = await t.grpcJs.call(m, request as MessageShape<DescMessage>, { deadlineMs: 10_000 });
      } else {
        const client = t[via] as unknown as Record<MethodName, (r: unknown, o: { timeoutMs: number }) => Promise<unknown>>;
        response = await client[method](request, { timeoutMs: 10_000 });
      }
      const created = method === "createTrip" ? (response as { trip?: { tripId: bigint } }).trip?.tripId : undefined;
      return { code: "OK", message: "", ...(created === undefined ? {} : { createdTripId: created }) };
    } catch (error) {
      if (error instanceof ConnectError) return { code: error.code, message: error.rawMessage };
      const e = error as grpc.ServiceError;
      if (typeof e.code === "number") return { code: e.code as number as Code, message: e.details };
      throw error;
    }
  }

  const CODE_BY_NAME = new Map(
    Object.entries(Code)
      .filter(([, v]) => typeof v === "number")
      .map(([name, v]) => [name.replace(/[A-Z]/g, (c, i) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`)), v as Code]),
  );

  async function callRaw({ method, protocol, body, encoding }: RawCase): Promise<Outcome> {
    const contentType = { "connect-proto": "application/proto", "connect-json": "application/json", "grpc-web": "application/grpc-web+proto" }[protocol];
    const res = await fetch(`${t.baseUrl}/${DriverAnalytics.typeName}/${METHODS[method].path}`, {
      method: "POST",
      headers: {
        "content-type": contentType,
        authorization: `Bearer ${t.token}`,
        ...(protocol === "grpc-web" ? { "x-grpc-web": "1" } : { "connect-protocol-version": "1" }),
        ...(encoding === undefined ? {} : protocol === "grpc-web" ? { "grpc-encoding": encoding } : { "content-encoding": encoding }),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (protocol === "grpc-web") {
      let status = res.headers.get("grpc-status");
      let message = res.headers.get("grpc-message") ?? "";
      let data: Uint8Array | undefined;
      for (let at = 0; at + 5 <= bytes.length; ) {
        const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
        const payload = bytes.subarray(at + 5, at + 5 + length);
        if ((bytes[at]! & 0x80) !== 0) {
          const trailers = new TextDecoder().decode(payload);
          status = /grpc-status:\s*(\d+)/i.exec(trailers)?.[1] ?? status;
          message = /grpc-message:\s*([^\r\n]*)/i.exec(trailers)?.[1] ?? message;
        } else {
          data = payload;
        }
        at += 5 + length;
      }
      if (status === null) return { code: Code.Unknown, message: `no grpc-status (HTTP ${res.status})` };
      const code = Number(status);
      if (code !== 0) return { code: code as Code, message: decodeURIComponent(message) };
      return { code: "OK", message: "", ...createdFrom(method, data) };
    }
    if (res.status === 200) {
      if (method !== "createTrip") return { code: "OK", message: "" };
      const trip = protocol === "connect-json"
        ? (JSON.parse(new TextDecoder().decode(bytes)) as { trip?: { tripId?: string } }).trip?.tripId
        : fromBinary(CreateTripResponseSchema, bytes).trip?.tripId;
      return { code: "OK", message: "", ...(trip === undefined ? {} : { createdTripId: BigInt(trip) }) };
    }
    let error: { code?: string; message?: string };
    try {
      error = JSON.parse(new TextDecoder().decode(bytes)) as typeof error;
    } catch {
      // Not a Connect error body: what the HTTP status says (5xx counts as INTERNAL).
      return { code: res.status >= 500 ? Code.Internal : Code.InvalidArgument, message: `HTTP ${res.status} without a Connect error` };
    }
    const code = CODE_BY_NAME.get(error.code ?? "");
    return { code: code ?? Code.Unknown, message: error.message ?? "" };
  }

  function createdFrom(method: MethodName, data: Uint8Array | undefined): { createdTripId?: bigint } {
    if (method !== "createTrip" || data === undefined) return {};
    const id = fromBinary(CreateTripResponseSchema, data).trip?.tripId;
    return id === undefined ? {} : { createdTripId: id };
  }

  it(`never answers INTERNAL to ${RUNS} random, extreme and raw requests to every RPC`, async () => {
    const seen = new Map<string, number>();
    const byMethod = new Map<string, Map<string, number>>();
    const created = new Set<bigint>();
    const examples = new Map<string, string>();
    const count = (method: string, name: string, message: string) => {
      if (name !== "OK" && !examples.has(name)) examples.set(name, `${method}: ${message}`);
      seen.set(name, (seen.get(name) ?? 0) + 1);
      const m = byMethod.get(method) ?? new Map<string, number>();
      m.set(name, (m.get(name) ?? 0) + 1);
      byMethod.set(method, m);
    };
    const check = (label: string, outcome: Outcome, expectOversized = false) => {
      const name = outcome.code === "OK" ? "OK" : Code[outcome.code]!;
      if (outcome.code !== "OK" && FORBIDDEN.has(outcome.code)) throw new Error(`${label} answered ${name}: ${outcome.message}`);
      if (LEAK.test(outcome.message)) throw new Error(`${label} leaked internals: ${outcome.message}`);
      if (expectOversized && outcome.code !== Code.ResourceExhausted) {
        throw new Error(`${label}: a body over ${READ_MAX_BYTES} bytes answered ${name}, not ResourceExhausted`);
      }
      if (outcome.createdTripId !== undefined) created.add(outcome.createdTripId);
      return name;
    };
    const started = performance.now();
    const property = fc.asyncProperty(
      fc.oneof(
        { weight: 7, arbitrary: fc.tuple(typedRequest(), fc.constantFrom("grpc", "connect", "grpcWeb", "grpcJs" as const)).map(([r, via]) => ({ kind: "typed" as const, ...r, via })) },
        { weight: 3, arbitrary: rawCase().map((raw) => ({ kind: "raw" as const, raw })) },
      ),
      async (c) => {
        if (c.kind === "typed") {
          const outcome = await callTyped(c.method, c.request, c.via);
          count(c.method, check(`${c.method} via ${c.via}`, outcome), outcome.message);
        } else {
          const outcome = await callRaw(c.raw);
          count(`${c.raw.method} raw`, check(`${c.raw.method} raw ${c.raw.protocol}`, outcome, c.raw.oversized), outcome.message);
        }
      },
    );
    try {
      await fc.assert(property, { numRuns: RUNS });
    } catch (error) {
      // fast-check's report: the seed, the path and the shrunk counterexample.
      console.error(`fuzz failed:\n${(error as Error).message}`);
      throw error;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.info(`fuzz: ${RUNS} cases in ${seconds} s, codes ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const [method, codes] of [...byMethod].sort()) console.info(`  ${method}: ${JSON.stringify(Object.fromEntries(codes))}`);
    for (const [name, example] of examples) console.info(`  e.g. ${name}: ${example.slice(0, 160)}`);
    // The fuzzer must reach every world: answers, refusals, and the read limit.
    expect(seen.get("OK")).toBeGreaterThan(0);
    expect(seen.get("InvalidArgument")).toBeGreaterThan(0);
    expect(seen.get("ResourceExhausted")).toBeGreaterThan(0);

    // Nothing lost: every trip a caller was told was created exists.
    const ids = [...created];
    const rows = ids.length === 0 ? [] : await t.db.query<{ id: bigint }>("SELECT id FROM trips WHERE id = ANY ($1::int8[])", [ids.map(String)]);
    expect(rows.length).toBe(ids.length);
    // Nothing corrupted: the rollups equal the raw rows, for every driver.
    for (const id of [1n, 2n, 3n]) {
      const { stats } = await t.grpc.getStats({ driverId: id });
      const live = await getDriverStatsLive(t.db, id, {});
      expect(stats).toMatchObject({
        totalTrips: live!.totalTrips,
        fareEarnings: { amountMinor: live!.fareMinor },
        tipEarnings: { amountMinor: live!.tipMinor },
        totalDistanceMeters: live!.distanceMeters,
        totalDurationSeconds: live!.durationMicros / 1_000_000n,
        ratedTrips: live!.ratedTrips,
      });
    }
    // Still alive and well.
    // A slot comes back when the server's stream closes, just after the client has its answer.
    await expect.poll(() => t.server.admission.stats(), { timeout: 5_000 }).toMatchObject({ inFlight: 0, queued: 0 });
  }, Math.max(120_000, RUNS * 30));
});
