// The RPC port against connections that never make a call: silent ones,
// ones that trickle HTTP/1.1 headers, ones that send HTTP/2's preface and
// stop, idle HTTP/2 sessions and keep-alive sockets, and more connections
// than the cap. Each is closed within its configured bound (short here, so a
// slow machine still meets bound + slack) while real clients' calls keep
// succeeding.
import http2 from "node:http2";
import net from "node:net";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { insertFixtures } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema, Health } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, startTestServer, type TestServer } from "../testing/harness.js";
import { bearer } from "../testing/test-auth.js";

const LIMITS = {
  maxConnections: 10_000,
  firstBytesTimeoutMs: 600,
  http1HeadersTimeoutMs: 600,
  http1KeepAliveTimeoutMs: 600,
  http2IdleTimeoutMs: 1_000,
};
// Clients start their clocks before the server can start its own (at
// net.connect, before a request is sent), so a close is never legitimately
// early: this is only for timer and clock rounding.
const EARLY_MS = 20;
// A busy machine 3x slower than this one still closes well within this.
const SLACK_MS = 4_000;
const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

interface RawSocket {
  socket: net.Socket;
  /** Resolves with the milliseconds from net.connect() to 'close'. */
  closedAfter: Promise<number>;
  received(): string;
}

function openRaw(port: number, onConnect: (socket: net.Socket) => void = () => undefined): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const openedAt = performance.now();
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (chunk: Buffer) => (data += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.once("connect", () => {
      socket.off("error", reject);
      const closedAfter = new Promise<number>((done) => socket.once("close", () => done(performance.now() - openedAt)));
      onConnect(socket);
      resolve({ socket, closedAfter, received: () => data });
    });
    socket.once("error", reject);
  });
}

/** trickle sends a request line and one header byte every intervalMs, forever. */
function trickle(request: string, intervalMs = 100) {
  return (socket: net.Socket) => {
    socket.write(request);
    const timer = setInterval(() => socket.write("x"), intervalMs);
    socket.once("close", () => clearInterval(timer));
  };
}

/** within resolves each promise's value, or "open" for one still pending after ms. */
async function within<T>(promises: Promise<T>[], ms: number): Promise<(T | "open")[]> {
  const results: (T | "open")[] = promises.map(() => "open");
  await Promise.race([
    Promise.all(promises.map((p, i) => p.then((value) => (results[i] = value)))),
    new Promise((resolve) => setTimeout(resolve, ms)),
  ]);
  return results;
}

function summary(figures: (number | "open")[]): string {
  const closed = figures.filter((f): f is number => f !== "open").sort((a, b) => a - b);
  if (closed.length === 0) return `0/${figures.length} closed`;
  const at = (q: number) => closed[Math.min(closed.length - 1, Math.floor(q * closed.length))]!.toFixed(0);
  return `${closed.length}/${figures.length} closed, min ${at(0)} ms, median ${at(0.5)} ms, max ${at(1)} ms`;
}

async function closedCounts(t: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, reason, value] of text.matchAll(/^driver_analytics_connections_closed_total\{reason="([^"]+)"\} (\d+)$/gm)) {
    counts[reason!] = Number(value);
  }
  return counts;
}

/** keepCalling makes grpc-js and Connect (HTTP/1.1) calls back to back until stopped. */
function keepCalling(t: TestServer) {
  let stopped = false;
  const failures: string[] = [];
  let ok = 0;
  const request = create(GetStatsRequestSchema, { driverId: 1n });
  const loop = async (call: () => Promise<unknown>) => {
    while (!stopped) {
      try {
        await call();
        ok++;
      } catch (error) {
        failures.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const loops = [
    loop(() => t.grpcJs.call(DriverAnalytics.method.getStats, request, { deadlineMs: 10_000 })),
    loop(() => t.connect.getStats(request, { timeoutMs: 10_000 })),
  ];
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

describe("connection limits on the RPC port", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ connectionLimits: LIMITS });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n }],
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("closes silent, trickling and preface-only sockets within their bounds while calls keep succeeding", async () => {
    const calls = keepCalling(t);
    const before = await closedCounts(t);
    const [silent, trickling, preface] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => openRaw(t.port))),
      Promise.all(
        Array.from({ length: 100 }, () =>
          openRaw(t.port, trickle(`POST /${DriverAnalytics.typeName}/GetStats HTTP/1.1\r\nHost: x\r\nX-Slow: `)),
        ),
      ),
      Promise.all(Array.from({ length: 50 }, () => openRaw(t.port, (s) => s.write(H2_PREFACE)))),
    ]);
    const wait = LIMITS.firstBytesTimeoutMs + SLACK_MS;
    const [silentMs, tricklingMs, prefaceMs] = await Promise.all([
      within(silent.map((s) => s.closedAfter), wait),
      within(trickling.map((s) => s.closedAfter), wait),
      within(preface.map((s) => s.closedAfter), wait),
    ]);
    const { ok, failures } = await calls.stop();
    console.info(
      `silent (first bytes ${LIMITS.firstBytesTimeoutMs} ms): ${summary(silentMs)}\n` +
        `trickling headers (${LIMITS.http1HeadersTimeoutMs} ms): ${summary(tricklingMs)}\n` +
        `HTTP/2 preface only (first bytes ${LIMITS.firstBytesTimeoutMs} ms): ${summary(prefaceMs)}\n` +
        `calls meanwhile: ${ok} OK, ${failures.length} failed`,
    );
    for (const s of [...silent, ...trickling, ...preface]) s.socket.destroy();

    for (const ms of [...silentMs, ...prefaceMs]) {
      expect(ms).not.toBe("open");
      expect(ms).toBeGreaterThanOrEqual(LIMITS.firstBytesTimeoutMs - EARLY_MS);
      expect(ms).toBeLessThanOrEqual(LIMITS.firstBytesTimeoutMs + SLACK_MS);
    }
    for (const ms of tricklingMs) {
      expect(ms).not.toBe("open");
      expect(ms).toBeGreaterThanOrEqual(LIMITS.http1HeadersTimeoutMs - EARLY_MS);
      expect(ms).toBeLessThanOrEqual(LIMITS.http1HeadersTimeoutMs + SLACK_MS);
    }
    // The trickler is told why; the silent ones are not spoken to at all.
    for (const s of trickling) expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
    for (const s of silent) expect(s.received()).toBe("");
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);

    const after = await closedCounts(t);
    expect((after["first-bytes-timeout"] ?? 0) - (before["first-bytes-timeout"] ?? 0)).toBe(150);
    expect((after["headers-timeout"] ?? 0) - (before["headers-timeout"] ?? 0)).toBe(100);
    await expect.poll(() => t.server.listener.stats().open.sniffing, { timeout: 5_000 }).toBe(0);
  });

  it("bounds the next request's headers on a keep-alive socket too, and closes an idle one quietly", async () => {
    const request = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    const before = await closedCounts(t);
    const idle = await openRaw(t.port, (s) => s.write(request));
    const slow = await openRaw(t.port, (s) => {
      s.write(request);
      s.once("data", () => trickle("GET /healthz HTTP/1.1\r\nX-Slow: ")(s));
    });
    // Idle: closed quietly by Node's keep-alive timeout (+1 s it adds) or at
    // keep-alive + headers, whichever comes first. Trickling: 408 at keep-alive + headers.
    const [idleMs, slowMs] = await within([idle.closedAfter, slow.closedAfter], LIMITS.http1KeepAliveTimeoutMs + 1_000 + SLACK_MS);
    console.info(`keep-alive idle: closed after ${String(idleMs)} ms; trickling its next request: ${String(slowMs)} ms`);
    idle.socket.destroy();
    slow.socket.destroy();
    expect(idleMs).not.toBe("open");
    expect(slowMs).not.toBe("open");
    expect(idleMs).toBeGreaterThanOrEqual(LIMITS.http1KeepAliveTimeoutMs - EARLY_MS);
    expect(slowMs).toBeGreaterThanOrEqual(LIMITS.http1KeepAliveTimeoutMs + LIMITS.http1HeadersTimeoutMs - EARLY_MS);
    expect(slowMs).toBeLessThanOrEqual(LIMITS.http1KeepAliveTimeoutMs + LIMITS.http1HeadersTimeoutMs + SLACK_MS);
    expect(idle.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(slow.received()).toMatch(/HTTP\/1\.1 200 [^]*HTTP\/1\.1 408 /);
    const after = await closedCounts(t);
    expect((after["headers-timeout"] ?? 0) - (before["headers-timeout"] ?? 0)).toBe(1);
  });

  it("sends GOAWAY to an HTTP/2 session idle for its bound, never to one with an open stream", async () => {
    const before = await closedCounts(t);
    // An idle session: one request, then nothing.
    const session = http2.connect(t.baseUrl);
    session.on("error", () => undefined);
    let goawayAt: number | undefined;
    session.once("goaway", () => (goawayAt = performance.now()));
    const closed = new Promise<number>((resolve) => session.once("close", () => resolve(performance.now())));
    // The server's idle clock starts when the stream closes there, after this.
    const lastStreamStarted = performance.now();
    await new Promise<void>((resolve, reject) => {
      const stream = session.request({ ":path": "/healthz" });
      stream.resume();
      stream.once("close", resolve);
      stream.once("error", reject);
    });

    // A session with a Watch stream open, silent for longer than the bound.
    const health = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    const watching = new AbortController();
    const watch = health.watch({ service: "" }, { signal: watching.signal })[Symbol.asyncIterator]();
    await watch.next();
    let watchEnded = false;
    const nextUpdate = watch.next().then(
      () => (watchEnded = true),
      () => (watchEnded = true),
    );

    const [closedAt] = await within([closed], LIMITS.http2IdleTimeoutMs + SLACK_MS);
    session.destroy();
    expect(closedAt).not.toBe("open");
    const idleMs = (closedAt as number) - lastStreamStarted;
    console.info(`HTTP/2 idle session (${LIMITS.http2IdleTimeoutMs} ms): GOAWAY and closed ${idleMs.toFixed(0)} ms after its last stream began`);
    expect(goawayAt).toBeDefined();
    expect(idleMs).toBeGreaterThanOrEqual(LIMITS.http2IdleTimeoutMs - EARLY_MS);
    expect(idleMs).toBeLessThanOrEqual(LIMITS.http2IdleTimeoutMs + SLACK_MS);

    // By now the Watch session has been silent past the bound too, yet lives.
    await new Promise((resolve) => setTimeout(resolve, LIMITS.http2IdleTimeoutMs / 2));
    expect(watchEnded).toBe(false);
    expect((await health.check({ service: "" })).status).toBeDefined();
    watching.abort();
    await nextUpdate;
    const after = await closedCounts(t);
    expect((after["idle-timeout"] ?? 0) - (before["idle-timeout"] ?? 0)).toBeGreaterThanOrEqual(1);
  });
});

describe("connection limits against clients that stop reading", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ connectionLimits: LIMITS });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("closes an idle HTTP/2 session whose client never reads: GOAWAY, then the socket a linger later", async () => {
    const open = () => {
      const { sniffing, http1, http2 } = t.server.listener.stats().open;
      return sniffing + http1 + http2;
    };
    const before = t.server.listener.stats().closed["idle-timeout"];
    // The whole preface (magic and an empty SETTINGS frame), then no reads:
    // the client never sees the server's FIN, so never sends its own.
    const socket = net.connect(t.port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.pause();
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    const openedAt = performance.now();
    socket.write(Buffer.concat([Buffer.from(H2_PREFACE, "latin1"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    try {
      await expect.poll(() => t.server.listener.stats().open.http2, { timeout: 2_000, interval: 10 }).toBe(1);
      // The server's socket is gone (1 s linger after GOAWAY, see listener.ts).
      await expect.poll(open, { timeout: LIMITS.http2IdleTimeoutMs + 1_000 + SLACK_MS, interval: 10 }).toBe(0);
      const closedMs = performance.now() - openedAt;
      console.info(`HTTP/2 idle session, client not reading: server closed its socket ${closedMs.toFixed(0)} ms after the preface`);
      expect(closedMs).toBeGreaterThanOrEqual(LIMITS.http2IdleTimeoutMs + 1_000 - EARLY_MS);
      expect(t.server.listener.stats().closed["idle-timeout"] - before).toBe(1);
    } finally {
      socket.destroy();
    }
  });
});

describe("MAX_CONNECTIONS", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ connectionLimits: { ...LIMITS, maxConnections: 8, firstBytesTimeoutMs: 60_000 } });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n }],
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("closes connections past the cap at once, counts them, and serves again below it", async () => {
    const open = () => {
      const { sniffing, http1, http2 } = t.server.listener.stats().open;
      return sniffing + http1 + http2;
    };
    const held = await Promise.all(Array.from({ length: 8 }, () => openRaw(t.port)));
    await expect.poll(open, { timeout: 5_000 }).toBe(8);
    const refused = await openRaw(t.port);
    const [refusedMs] = await within([refused.closedAfter], SLACK_MS);
    console.info(`past the cap of 8: closed ${String(refusedMs)} ms after connecting`);
    expect(refusedMs).not.toBe("open");
    expect(refused.received()).toBe("");
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    const grpcJs = createGrpcJsClient(`127.0.0.1:${t.port}`, {}, { authorization: `Bearer ${t.token}` });
    try {
      await expect(grpcJs.call(DriverAnalytics.method.getStats, request, { deadlineMs: 1_000 })).rejects.toThrow();
      expect(t.server.listener.stats().closed.refused).toBeGreaterThanOrEqual(2);
      // grpc-js keeps reconnecting: out of the way, lest it take the freed slots.
      grpcJs.close();

      held[0]!.socket.destroy();
      held[1]!.socket.destroy();
      await expect.poll(open, { timeout: 5_000 }).toBeLessThanOrEqual(6);
      const connect = createClient(
        DriverAnalytics,
        createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1", interceptors: [bearer(t.token)] }),
      );
      expect((await connect.getStats(request)).stats).toBeDefined();
      const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
      expect(text).toMatch(/^driver_analytics_connections_closed_total\{reason="refused"\} [2-9]\d*$/m);
      expect(text).toMatch(/^driver_analytics_connections\{state="max"\} 8$/m);
    } finally {
      grpcJs.close();
      for (const s of held) s.socket.destroy();
    }
  });
});

describe("an HTTP/2 session at its stream limit", () => {
  const LIMIT = 150;
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ maxConcurrentStreams: LIMIT });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("refuses new streams while it still counts closed ones, and keeps the session and its calls", async () => {
    // A client with LIMIT calls open cancels them all and opens LIMIT new
    // ones in one write, within its limit. Node 24 counts the cancelled
    // streams until its next turn and refuses every new one
    // (ENHANCE_YOUR_CALM); past 100 such refusals in a row its default ends
    // the session with GOAWAY. (Node 20 accepts them.)
    const raw = await openRaw(t.port, (socket) => socket.write(Buffer.concat([Buffer.from(H2_PREFACE, "latin1"), frame(SETTINGS, 0, 0)])));
    await expect.poll(() => framesOf(raw).some((f) => f.type === SETTINGS && f.flags === 0), { timeout: 5_000 }).toBe(true);
    const first = Array.from({ length: LIMIT }, (_, i) => 1 + 2 * i);
    raw.socket.write(Buffer.concat([frame(SETTINGS, ACK, 0), ...first.map((id) => frame(HEADERS, END_HEADERS, id, healthCheckHeaders()))]));
    await expect.poll(() => t.server.listener.stats().open.http2, { timeout: 5_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = first.map((id) => id + 2 * LIMIT);
    raw.socket.write(
      Buffer.concat([
        ...first.map((id) => frame(RST_STREAM, 0, id, u32(CANCEL))),
        ...next.map((id) => frame(HEADERS, END_HEADERS, id, healthCheckHeaders())),
        // Answered after every frame before it.
        frame(PING, 0, 0, Buffer.alloc(8)),
      ]),
    );
    await expect.poll(() => framesOf(raw).some((f) => f.type === PING || f.type === GOAWAY), { timeout: 5_000 }).toBe(true);
    const refused = framesOf(raw).filter((f) => f.type === RST_STREAM && f.payload.readUInt32BE(0) === ENHANCE_YOUR_CALM).length;
    console.info(`Node ${process.version}: new streams refused while closed ones were still counted: ${refused} of ${LIMIT}`);
    expect(framesOf(raw).filter((f) => f.type === GOAWAY)).toEqual([]);
    // The same session serves the next call (the new streams cancelled too, where Node accepted them).
    raw.socket.write(Buffer.concat(next.map((id) => frame(RST_STREAM, 0, id, u32(CANCEL)))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const last = next.at(-1)! + 2;
    raw.socket.write(Buffer.concat([frame(HEADERS, END_HEADERS, last, healthCheckHeaders()), frame(DATA, END_STREAM, last, Buffer.alloc(5))]));
    await expect.poll(() => framesOf(raw).some((f) => f.type === HEADERS && f.streamId === last), { timeout: 5_000 }).toBe(true);
    expect(framesOf(raw).filter((f) => f.type === GOAWAY)).toEqual([]);
    raw.socket.destroy();
  });
});

// HTTP/2 frames by hand (RFC 9113): a client as fast as a loaded server's
// peers look to it, which grpc-js cannot be made to be on demand.
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const CANCEL = 0x8;
const ENHANCE_YOUR_CALM = 0xb;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}

/** A Health/Check request's header block: HPACK literals never indexed, so no table state. */
function healthCheckHeaders(): Buffer {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/grpc.health.v1.Health/Check"],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ];
  return Buffer.concat(
    fields.map(([name, value]) => Buffer.concat([Buffer.from([0x10, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)])),
  );
}

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** framesOf: the frames the server has sent so far, after its SETTINGS preface. */
function framesOf(raw: RawSocket): Frame[] {
  const bytes = Buffer.from(raw.received(), "latin1");
  const frames: Frame[] = [];
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    frames.push({
      type: bytes[at + 3]!,
      flags: bytes[at + 4]!,
      streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff,
      payload: bytes.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length;
  }
  return frames;
}
