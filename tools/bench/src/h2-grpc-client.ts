import * as net from "node:net";
import { Code } from "@connectrpc/connect";
import hpack from "hpack.js";

/**
 * H2GrpcClient makes unary gRPC calls by writing HTTP/2 frames to a TCP
 * socket itself: per call, one HEADERS frame (encoded once, without the
 * dynamic table) and one DATA frame; from the server, HEADERS decoded by
 * hpack.js, for grpc-status and grpc-retry-pushback-ms. It is the overload
 * benchmark's load generator because it costs the machine little: the
 * generator shares the two cores with the server it measures. grpc-js's
 * client spent about 364 µs of CPU per GetStats call and one on node:http2
 * 213 µs, so at 4x capacity either would take the whole machine from the
 * server it measures (ghz, in Go, would not).
 *
 * It does what a conforming client must: the preface and SETTINGS (acked
 * both ways), PING answers, the server's concurrent-stream limit (calls
 * beyond it wait here, as in any HTTP/2 client), connection flow control
 * both ways, GOAWAY and RST_STREAM. Every call carries grpc-timeout and is
 * cancelled (RST_STREAM CANCEL) when its deadline passes, as grpc-js and
 * ghz do: DEADLINE_EXCEEDED. A connection the server ended (GOAWAY, or the
 * socket closed) is replaced at the next call, as grpc-js reconnects; the
 * calls it took down end CONNECTION_LOST, not UNAVAILABLE, so the tables do
 * not count them as the server's refusals.
 */
export class H2GrpcClient {
  readonly #connections: Connection[];
  // Every connection made, replaced ones too (they finish their calls), for close().
  readonly #made: Connection[];
  readonly #connect: () => Connection;
  #next = 0;
  #reconnects = 0;

  constructor(address: string, connections: number) {
    const [host, port] = splitAddress(address);
    this.#connect = () => new Connection(host, port, address);
    this.#connections = Array.from({ length: connections }, this.#connect);
    this.#made = [...this.#connections];
  }

  waitForReady(): Promise<void> {
    return Promise.all(this.#connections.map((c) => c.ready)).then(() => undefined);
  }

  /** How many connections the server ended and this client made again. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /**
   * call sends `frame` (a gRPC length-prefixed message) to `path` and calls
   * `done` once with the gRPC status and the pushback the server advised.
   */
  call(path: string, frame: Buffer, authorization: string, timeoutMs: number, done: CallDone): void {
    const i = this.#next++ % this.#connections.length;
    let connection = this.#connections[i]!;
    if (connection.lost) {
      connection = this.#connections[i] = this.#connect();
      this.#made.push(connection);
      this.#reconnects++;
    }
    connection.call(path, frame, authorization, timeoutMs, done);
  }

  close(): void {
    for (const c of this.#made) c.close();
  }
}

export type CallDone = (code: number, pushbackMs: number | undefined) => void;

/** Not a gRPC status: the call was lost with its connection (GOAWAY past it, or the socket closed). */
export const CONNECTION_LOST = -1;

/** grpcFrame: a message as gRPC sends it (uncompressed flag, 4-byte length, bytes). */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

// HTTP/2 (RFC 9113).
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_ENABLE_PUSH = 0x2;
const CANCEL = 0x8;
const REFUSED_STREAM = 0x7;
const ENHANCE_YOUR_CALM = 0xb;
// REFUSED_STREAM: not processed, retriable; ENHANCE_YOUR_CALM: e.g. Node's
// HTTP/2 refusing a stream itself; CANCEL: the server gave up on it.
const RST_STREAM_STATUS = new Map<number, number>([
  [REFUSED_STREAM, Code.Unavailable],
  [ENHANCE_YOUR_CALM, Code.ResourceExhausted],
  [CANCEL, Code.Canceled],
]);
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
const SWEEP_MS = 5;

interface Call {
  streamId: number;
  path: string;
  frame: Buffer;
  authorization: string;
  timeoutMs: number;
  expiresAt: number;
  done: CallDone;
  status: number | undefined;
  pushbackMs: number | undefined;
  settled: boolean;
}

class Connection {
  readonly ready: Promise<void>;
  readonly #socket: net.Socket;
  readonly #authority: string;
  readonly #decoder = hpack.decompressor.create({ table: { size: 4096 } });
  readonly #streams = new Map<number, Call>();
  // Calls waiting for a stream (the server's limit) or for send window.
  #waiting: Call[] = [];
  #waitingHead = 0;
  // Calls in start order, for their deadlines (one timeout for all: the oldest expires first).
  #byDeadline: Call[] = [];
  #deadlineHead = 0;
  #nextStreamId = 1;
  #maxStreams = 100;
  #sendWindow = DEFAULT_WINDOW;
  #received = 0;
  #input: Buffer = Buffer.alloc(0);
  #headerBlock: Buffer[] = [];
  #headerStream = 0;
  #headerEndsStream = false;
  #output: Buffer[] = [];
  #flushQueued = false;
  #closed = false;
  #closedByUs = false;
  #headerCache = new Map<string, Buffer>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(host: string, port: number, authority: string) {
    this.#authority = authority;
    this.#socket = net.connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once("connect", () => resolve());
      this.#socket.once("error", reject);
    });
    // A replacement connection has no one waiting on ready: its failure is its calls'.
    this.ready.catch(() => undefined);
    this.#socket.on("error", () => this.#fail(CONNECTION_LOST));
    this.#socket.on("close", () => this.#fail(CONNECTION_LOST));
    this.#socket.on("data", (chunk: Buffer) => this.#read(chunk));
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(MAX_WINDOW - DEFAULT_WINDOW, 0);
    this.#write(PREFACE);
    this.#frame(SETTINGS, 0, 0, settings);
    this.#frame(WINDOW_UPDATE, 0, 0, increment);
    this.#sweeper = setInterval(() => this.#expire(), SWEEP_MS);
  }

  call(path: string, frame: Buffer, authorization: string, timeoutMs: number, done: CallDone): void {
    const call: Call = {
      streamId: 0,
      path,
      frame,
      authorization,
      timeoutMs,
      expiresAt: performance.now() + timeoutMs,
      done,
      status: undefined,
      pushbackMs: undefined,
      settled: false,
    };
    if (this.#closed) return this.#settle(call, CONNECTION_LOST);
    this.#byDeadline.push(call);
    this.#waiting.push(call);
    this.#startWaiting();
  }

  /** The server ended it: calls must go to a new connection. */
  get lost(): boolean {
    return this.#closed && !this.#closedByUs;
  }

  close(): void {
    this.#closed = true;
    this.#closedByUs = true;
    clearInterval(this.#sweeper);
    this.#socket.end();
  }

  // Starts waiting calls while the server's stream limit and the send window allow.
  #startWaiting(): void {
    while (this.#waitingHead < this.#waiting.length && this.#streams.size < this.#maxStreams) {
      const call = this.#waiting[this.#waitingHead]!;
      if (call.settled) {
        this.#waitingHead++;
        continue;
      }
      if (call.frame.length > this.#sendWindow) break;
      this.#waitingHead++;
      call.streamId = this.#nextStreamId;
      this.#nextStreamId += 2;
      this.#streams.set(call.streamId, call);
      this.#frame(HEADERS, END_HEADERS, call.streamId, this.#requestHeaders(call));
      this.#frame(DATA, END_STREAM, call.streamId, call.frame);
      this.#sendWindow -= call.frame.length;
    }
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
    }
  }

  // The request's header block: literal fields never added to the dynamic
  // table, so one encoding serves every call to the same path.
  #requestHeaders(call: Call): Buffer {
    const key = `${call.path}\n${call.timeoutMs}\n${call.authorization}`;
    let block = this.#headerCache.get(key);
    if (block === undefined) {
      block = Buffer.concat([
        Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3, 6)
        literal(":path", call.path),
        literal(":authority", this.#authority),
        literal("content-type", "application/grpc"),
        literal("te", "trailers"),
        literal("grpc-timeout", `${call.timeoutMs}m`),
        literal("authorization", call.authorization),
      ]);
      this.#headerCache.set(key, block);
    }
    return block;
  }

  #read(chunk: Buffer): void {
    this.#input = this.#input.length === 0 ? chunk : Buffer.concat([this.#input, chunk]);
    let offset = 0;
    const input = this.#input;
    while (input.length - offset >= 9) {
      const length = input.readUIntBE(offset, 3);
      if (input.length - offset < 9 + length) break;
      const type = input[offset + 3]!;
      const flags = input[offset + 4]!;
      const streamId = input.readUInt32BE(offset + 5) & 0x7fffffff;
      this.#onFrame(type, flags, streamId, input.subarray(offset + 9, offset + 9 + length));
      offset += 9 + length;
    }
    this.#input = offset === input.length ? Buffer.alloc(0) : input.subarray(offset);
    this.#startWaiting();
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case DATA: {
        this.#received += payload.length;
        // The window was opened to 2^31-1 both ways: top it up after 1 GiB.
        if (this.#received > 2 ** 30) {
          const increment = Buffer.alloc(4);
          increment.writeUInt32BE(this.#received, 0);
          this.#frame(WINDOW_UPDATE, 0, 0, increment);
          this.#received = 0;
        }
        if (flags & END_STREAM) this.#endStream(streamId);
        return;
      }
      case HEADERS:
      case CONTINUATION: {
        let block = payload;
        if (type === HEADERS) {
          let start = 0;
          let end = payload.length;
          if (flags & PADDED) {
            start = 1;
            end -= payload[0]!;
          }
          if (flags & PRIORITY) start += 5;
          block = payload.subarray(start, end);
          this.#headerStream = streamId;
          this.#headerEndsStream = (flags & END_STREAM) !== 0;
        }
        this.#headerBlock.push(block);
        if (flags & END_HEADERS) this.#onHeaderBlock();
        return;
      }
      case RST_STREAM: {
        const call = this.#streams.get(streamId);
        if (call === undefined) return;
        this.#streams.delete(streamId);
        const code = payload.readUInt32BE(0);
        // As grpc-js reports a reset stream.
        this.#settle(
          call,
          call.status ?? RST_STREAM_STATUS.get(code) ?? Code.Internal,
        );
        return;
      }
      case SETTINGS: {
        if (flags & ACK) return;
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const id = payload.readUInt16BE(i);
          const value = payload.readUInt32BE(i + 2);
          if (id === SETTINGS_MAX_CONCURRENT_STREAMS) this.#maxStreams = value;
        }
        this.#frame(SETTINGS, ACK, 0, Buffer.alloc(0));
        return;
      }
      case PING:
        if (!(flags & ACK)) this.#frame(PING, ACK, 0, payload);
        return;
      case GOAWAY: {
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        this.#closed = true;
        for (const [id, call] of this.#streams) {
          if (id > lastStreamId) {
            this.#streams.delete(id);
            this.#settle(call, CONNECTION_LOST);
          }
        }
        this.#settleWaiting(CONNECTION_LOST);
        return;
      }
      case WINDOW_UPDATE:
        if (streamId === 0) this.#sendWindow += payload.readUInt32BE(0) & 0x7fffffff;
        return;
      default:
        return;
    }
  }

  // Every header block is decoded, a cancelled call's too: the table is the connection's.
  #onHeaderBlock(): void {
    const block = this.#headerBlock.length === 1 ? this.#headerBlock[0]! : Buffer.concat(this.#headerBlock);
    this.#headerBlock = [];
    this.#decoder.write(block);
    this.#decoder.execute();
    const call = this.#streams.get(this.#headerStream);
    let httpStatus = 0;
    for (let field = this.#decoder.read(); field !== null; field = this.#decoder.read()) {
      if (call === undefined) continue;
      if (field.name === "grpc-status") call.status = Number(field.value);
      else if (field.name === "grpc-retry-pushback-ms") call.pushbackMs = Number(field.value);
      else if (field.name === ":status") httpStatus = Number(field.value);
    }
    // A non-gRPC answer (no grpc-status): what a gRPC client makes of the HTTP status.
    if (call !== undefined && httpStatus !== 0 && httpStatus !== 200 && call.status === undefined) {
      call.status = httpStatus === 503 || httpStatus === 429 ? Code.Unavailable : Code.Unknown;
    }
    if (this.#headerEndsStream) this.#endStream(this.#headerStream);
  }

  #endStream(streamId: number): void {
    const call = this.#streams.get(streamId);
    if (call === undefined) return;
    this.#streams.delete(streamId);
    this.#settle(call, call.status ?? Code.Unknown);
  }

  #expire(): void {
    const now = performance.now();
    const calls = this.#byDeadline;
    while (this.#deadlineHead < calls.length) {
      const call = calls[this.#deadlineHead]!;
      if (!call.settled && call.expiresAt > now) break;
      this.#deadlineHead++;
      if (call.settled) continue;
      if (call.streamId !== 0 && this.#streams.delete(call.streamId)) {
        const code = Buffer.alloc(4);
        code.writeUInt32BE(CANCEL, 0);
        this.#frame(RST_STREAM, 0, call.streamId, code);
      }
      this.#settle(call, Code.DeadlineExceeded);
    }
    if (this.#deadlineHead > 4096 && this.#deadlineHead * 2 > calls.length) {
      this.#byDeadline = calls.slice(this.#deadlineHead);
      this.#deadlineHead = 0;
    }
    this.#startWaiting();
  }

  #settle(call: Call, code: number): void {
    if (call.settled) return;
    call.settled = true;
    call.done(code, call.pushbackMs);
  }

  #fail(code: number): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const call of this.#streams.values()) this.#settle(call, code);
    this.#streams.clear();
    this.#settleWaiting(code);
  }

  // Calls not yet sent end with `code`.
  #settleWaiting(code: number): void {
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) this.#settle(this.#waiting[i]!, code);
    this.#waiting = [];
    this.#waitingHead = 0;
  }

  #frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const header = Buffer.allocUnsafe(9);
    header.writeUIntBE(payload.length, 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(streamId, 5);
    this.#write(header);
    if (payload.length > 0) this.#write(payload);
  }

  // Frames written in one turn of the event loop go out in one write.
  #write(bytes: Buffer): void {
    this.#output.push(bytes);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      const out = this.#output;
      this.#output = [];
      if (!this.#socket.destroyed) this.#socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
  }
}

/** literal: a header field as an HPACK literal, never indexed, name and value as raw octets. */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, "latin1");
  const v = Buffer.from(value, "latin1");
  return Buffer.concat([Buffer.from([0x10]), hpackLength(n.length), n, hpackLength(v.length), v]);
}

/** hpackLength: a string length as an HPACK integer with a 7-bit prefix (Huffman bit clear). */
function hpackLength(value: number): Buffer {
  if (value < 127) return Buffer.from([value]);
  const bytes = [127];
  let rest = value - 127;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon).replace(/^\[|\]$/g, ""), Number(address.slice(colon + 1))];
}
