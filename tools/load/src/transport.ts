// One HTTP/2 connection to the server, speaking gRPC (grpc-js), or the Connect
// protocol or gRPC-Web (connect-node). Both are callback-shaped here so the worker loop
// needs no promise or closure per call on the grpc-js path.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type DescMethod, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Protocol } from "./options.js";

export type Headers = Readonly<Record<string, string>>;

/** Called once per call: code 0 and the decoded response (if asked for), or an error code and message. */
export type UnaryCallback = (code: number, message: string, response: Message | undefined) => void;

/** What a call needs beyond its input: the method, and whether to decode the response. */
export interface MethodSpec {
  readonly method: DescMethod;
  /** Decoding costs client CPU; only workloads that read the response (page walks) ask for it. */
  readonly decodeResponse: boolean;
}

export interface Connection {
  /** Resolves when the HTTP/2 connection is up; rejects after connectTimeoutMs. */
  waitForReady(connectTimeoutMs: number): Promise<void>;
  /** Starts a unary call. `timeoutMs` 0 = no deadline. */
  unary(spec: MethodSpec, input: Message, headers: Headers | undefined, timeoutMs: number, done: UnaryCallback): void;
  /** Fails every call in flight (ghz's --duration-stop close) and closes the connection. */
  abort(): void;
  close(): void;
}

export function openConnection(protocol: Protocol, host: string, index: number): Connection {
  return protocol === "grpc" ? new GrpcConnection(host, index) : new ConnectConnection(host, protocol);
}

// ---------------------------------------------------------------------------
// gRPC via @grpc/grpc-js

class GrpcConnection implements Connection {
  private readonly client: grpc.Client;
  private readonly inFlight = new Set<grpc.ClientUnaryCall>();
  private readonly metadataCache = new WeakMap<Headers, grpc.Metadata>();
  private readonly codecs = new Map<DescMethod, Codec>();
  private trackCalls = true;

  constructor(host: string, index: number) {
    this.client = new grpc.Client(host, grpc.credentials.createInsecure(), {
      // Without a local pool every Client shares one subchannel, i.e. one TCP
      // connection per target; --connections would then measure one connection.
      "grpc.use_local_subchannel_pool": 1,
      // Distinct options per connection, so no layer can decide two are the same channel.
      "driver-analytics-load.connection-index": index,
      // Retries buffer every request and may replay it: a load test wants one call per call.
      "grpc.enable_retries": 0,
    });
  }

  waitForReady(connectTimeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + (connectTimeoutMs || 10_000), (err) => (err ? reject(err) : resolve()));
    });
  }

  unary(spec: MethodSpec, input: Message, headers: Headers | undefined, timeoutMs: number, done: UnaryCallback): void {
    const codec = this.codec(spec);
    const options: grpc.CallOptions = timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
    const call = this.client.makeUnaryRequest(
      codec.path,
      codec.serialize,
      codec.deserialize,
      input,
      this.metadata(headers),
      options,
      (err: grpc.ServiceError | null, value?: Message) => {
        if (this.trackCalls) this.inFlight.delete(call);
        if (err) done(err.code, err.details, undefined);
        else done(0, "", value);
      },
    );
    if (this.trackCalls) this.inFlight.add(call);
  }

  /** A Set add/delete per call is cheap next to grpc-js's own per-call work, and it is what makes "close" possible. */
  abort(): void {
    this.trackCalls = false;
    for (const call of this.inFlight) call.cancel();
    this.inFlight.clear();
    this.client.close();
  }

  close(): void {
    this.client.close();
  }

  private metadata(headers: Headers | undefined): grpc.Metadata {
    if (headers === undefined) return EMPTY_METADATA;
    let md = this.metadataCache.get(headers);
    if (!md) {
      md = new grpc.Metadata();
      for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
      this.metadataCache.set(headers, md);
    }
    return md;
  }

  private codec(spec: MethodSpec): Codec {
    let c = this.codecs.get(spec.method);
    if (!c) {
      c = makeCodec(spec);
      this.codecs.set(spec.method, c);
    }
    return c;
  }
}

// grpc-js clones call metadata before touching it, so one empty instance can be shared.
const EMPTY_METADATA = new grpc.Metadata();

interface Codec {
  readonly path: string;
  readonly serialize: (m: Message) => Buffer;
  readonly deserialize: (b: Buffer) => Message;
}

function makeCodec(spec: MethodSpec): Codec {
  const input = spec.method.input as DescMessage;
  const output = spec.method.output as DescMessage;
  // Static request data reuses one message object: serialize it once.
  let lastMessage: Message | undefined;
  let lastBytes: Buffer | undefined;
  return {
    path: `/${spec.method.parent.typeName}/${spec.method.name}`,
    serialize(m) {
      if (m === lastMessage && lastBytes) return lastBytes;
      const u8 = toBinary(input, m);
      const buf = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
      lastMessage = m;
      lastBytes = buf;
      return buf;
    },
    deserialize: spec.decodeResponse
      ? (b) => fromBinary(output, b)
      : // The response is not read: skip decoding it. gRPC framing is still checked by grpc-js.
        () => NOT_DECODED,
  };
}

const NOT_DECODED = undefined as unknown as Message;

// ---------------------------------------------------------------------------
// Connect protocol or gRPC-Web via @connectrpc/connect-node, HTTP/2

class ConnectConnection implements Connection {
  private readonly session: Http2SessionManager;
  private readonly transport: Transport;

  constructor(host: string, protocol: "connect" | "grpcweb") {
    const baseUrl = `http://${host}`;
    this.session = new Http2SessionManager(
      baseUrl,
      { idleConnectionTimeoutMs: 60_000 * 60 },
      // Node's default 10 MB session memory trips with thousands of streams on
      // one connection (ENHANCE_YOUR_CALM); grpc-js lifts it for the same reason.
      { maxSessionMemory: Number.MAX_SAFE_INTEGER },
    );
    // One transport per connection: each owns its session manager, so its own HTTP/2 session.
    const options = { baseUrl, httpVersion: "2" as const, sessionManager: this.session, useBinaryFormat: true };
    this.transport = protocol === "grpcweb" ? createGrpcWebTransport(options) : createConnectTransport(options);
  }

  async waitForReady(connectTimeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), connectTimeoutMs || 10_000);
    });
    try {
      const state = await Promise.race([this.session.connect(), timeout]);
      if (state === "timeout") throw new Error(`connection not ready within ${connectTimeoutMs} ms`);
      if (state === "error") throw this.session.error() ?? new Error("connection failed");
    } finally {
      clearTimeout(timer);
    }
  }

  unary(spec: MethodSpec, input: Message, headers: Headers | undefined, timeoutMs: number, done: UnaryCallback): void {
    this.transport
      .unary(spec.method as never, undefined, timeoutMs > 0 ? timeoutMs : undefined, headers, input as never)
      .then(
        (res) => done(0, "", res.message as Message),
        (err: unknown) => {
          const e = ConnectError.from(err);
          done(e.code, e.rawMessage, undefined);
        },
      );
  }

  abort(): void {
    this.session.abort(new ConnectError("load run stopped: connection closed", Code.Canceled));
  }

  close(): void {
    this.session.abort();
  }
}
