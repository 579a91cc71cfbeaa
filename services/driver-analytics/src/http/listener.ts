import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/**
 * DEFAULT_MAX_CONCURRENT_STREAMS per HTTP/2 connection. Past it a client
 * queues calls itself, where they cost this server nothing, but where the
 * gate cannot refuse them either: they wait there to their deadline. Under
 * overload every admitted call holds its stream while it queues (up to ~0.5 s
 * at a 2 s deadline), so a connection needs about its share of capacity x
 * 0.5 s of streams. With 128 on a machine serving ~5,000 GetStats/s, open
 * loop at 2x-4x left 20-22% of calls to miss their deadline in the client and
 * 17-51% lost with sessions Node 24 ended (streams at the limit, just-closed
 * ones still counted, see MAX_REJECTED_STREAMS_IN_A_ROW); with 256, none of
 * either, refusals' p99 109-237 ms, and recovery 99.4% OK in its first 5 s
 * (58.4%). It also bounds what a closed-loop crowd puts in the admission
 * queue: 10,000 clients over 16 connections put 4,096 calls here, served with
 * 0 errors in the same probe (the refusal budget keeps a slower machine's
 * crowd from the refusal spiral that 250 caused before it existed).
 * 2,000 served 1.6x fewer calls OK than 250 at twice capacity (the excess was
 * parsed and refused here).
 */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 256;

/**
 * ConnectionLimits bound what a connection may hold before (and between) the
 * calls it makes: the port is open to anyone, before any token is checked.
 */
export interface ConnectionLimits {
  /** Open connections at most (net.Server.maxConnections); past it new ones are closed at once. */
  maxConnections: number;
  /**
   * From accept to the protocol being known: the first bytes of an HTTP/1.1
   * request, or HTTP/2's whole connection preface (the magic and the client's
   * SETTINGS frame).
   */
  firstBytesTimeoutMs: number;
  /**
   * From the first bytes of an HTTP/1.1 request to its last header. For the
   * next request on a keep-alive connection the clock starts when the
   * previous response is out, so that one gets http1KeepAliveTimeoutMs more.
   */
  http1HeadersTimeoutMs: number;
  /** An idle keep-alive HTTP/1.1 connection is closed after this (Node adds 1 s of slack). */
  http1KeepAliveTimeoutMs: number;
  /**
   * An HTTP/2 connection without a stream for this long gets GOAWAY and is
   * closed (grpc-go's MaxConnectionIdle): clients reconnect when they next
   * call. A connection with an open stream, a Watch say, is never idle.
   */
  http2IdleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 10_000,
  firstBytesTimeoutMs: 10_000,
  http1HeadersTimeoutMs: 10_000,
  http1KeepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 5 * 60_000,
};

/**
 * How many new streams in a row a session may refuse before Node tears it
 * down. Node 24 (not 20) counts a stream against SETTINGS_MAX_CONCURRENT_STREAMS
 * until a turn of the event loop after it closed, so a conforming client at
 * its limit (it resets calls at their deadline and opens new ones, in one
 * read) gets ENHANCE_YOUR_CALM; after Node's default of 100 in a row it ends
 * the session with GOAWAY and every call on it. Offered 22,000 GetStats/s open loop over
 * 16 connections (about 8x capacity), Node's default let 3-11% of calls miss
 * their deadline and answered 4,000-12,000 with ENHANCE_YOUR_CALM per 6 s,
 * and in one of two runs 12 of the 16 sessions were ended; with this, 0-0.4%,
 * 0-446 and none. A peer that ignores the refusals is still cut off, later.
 */
const MAX_REJECTED_STREAMS_IN_A_ROW = 10_000;

export interface ListenerOptions {
  /** Per-connection cap on concurrent HTTP/2 streams (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /**
   * HTTP/2 session memory in MB. Node's default (10) makes a busy connection
   * refuse new streams with ENHANCE_YOUR_CALM, then close.
   */
  maxSessionMemoryMb: number;
  /** DEFAULT_CONNECTION_LIMITS for whatever is absent. */
  limits?: Partial<ConnectionLimits>;
}

/** Why the listener closed a connection on its own. */
export type ConnectionCloseReason = "refused" | "first-bytes-timeout" | "headers-timeout" | "idle-timeout";
export const CONNECTION_CLOSE_REASONS: readonly ConnectionCloseReason[] = [
  "refused",
  "first-bytes-timeout",
  "headers-timeout",
  "idle-timeout",
];

export interface ConnectionStats {
  /** Connections open now: still being sniffed (or in the HTTP/2 handshake), HTTP/1.1, HTTP/2. */
  open: { sniffing: number; http1: number; http2: number };
  /** Connections this listener closed on its own since it started, by reason. */
  closed: Record<ConnectionCloseReason, number>;
  limits: ConnectionLimits;
}

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** ListenerHandlers: what serves HTTP requests, and what sees every HTTP/2 stream first. */
export interface ListenerHandlers {
  /** HTTP/1.1 requests, and HTTP/2 streams passed on by `stream`, through Node's compatibility API. */
  request: Handler;
  /**
   * stream sees each HTTP/2 stream on arrival, with its headers, before
   * Node builds request/response objects for it: it may answer the stream
   * itself, hand it to another server (grpc-js), or call serveAsRequest.
   */
  stream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, serveAsRequest: () => void) => void;
}

/** Where a sniffed connection goes. More destinations (e.g. a second HTTP/2 server) join here. */
export type Destination = "http1" | "http2";

const H2_PREFACE_START = Buffer.from("PRI", "latin1");

/**
 * sniff decides a connection's destination from its first bytes, or returns
 * undefined while it needs more. Only HTTP/2's preface starts with "PRI" (no
 * HTTP/1.1 method does), so one byte that differs from it is enough.
 */
export function sniff(bytes: Buffer, ended: boolean): Destination | undefined {
  const n = Math.min(bytes.length, H2_PREFACE_START.length);
  if (bytes.compare(H2_PREFACE_START, 0, n, 0, n) !== 0) return "http1";
  if (n === H2_PREFACE_START.length) return "http2";
  return ended ? "http1" : undefined;
}

const REQUEST_TIMEOUT_RESPONSE = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

interface H1State {
  /** Requests being served on the socket (more than one when pipelined). */
  active: number;
  /** Armed while the socket owes us the headers of its next request. */
  headersTimer: NodeJS.Timeout | undefined;
}

interface H2State {
  /** The session's own socket (session.socket is a proxy that may not be destroyed). */
  socket: net.Socket | undefined;
  /** Streams open on the session. */
  streams: number;
  /** The first-bytes deadline until the handshake, then the idle deadline while no stream is open. */
  timer: NodeJS.Timeout | undefined;
  handshaken: boolean;
  /** Set once GOAWAY is sent: the socket is destroyed GOAWAY_LINGER_MS after the last stream. */
  goneAway: boolean;
}

/**
 * After GOAWAY and its last stream, Node ends the socket and waits for the
 * client to end its side: a client that never reads would hold it forever.
 * A client has nothing left to say by then; this is its time to hang up.
 */
const GOAWAY_LINGER_MS = 1_000;

/**
 * Listener serves one port for HTTP/2 cleartext (gRPC, and Connect/gRPC-Web
 * over h2c) and HTTP/1.1 (Connect and gRPC-Web from browsers and curl): it
 * reads the first bytes of each connection and hands the socket to the HTTP/2
 * or the HTTP/1.1 server. Node cannot do this by itself without TLS/ALPN.
 *
 * Every phase of a connection has a bound (ConnectionLimits). Sockets are
 * handed over by emit("connection"), and an http.Server that did not listen
 * itself does not track them: its headersTimeout and requestTimeout are
 * never armed (Node 20 and 24 alike), nor does close() wait for them. So the
 * listener keeps its own timers and drains the sockets itself.
 */
export class Listener {
  readonly #tcp: net.Server;
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #limits: ConnectionLimits;
  /** Sockets whose first bytes have not decided their destination yet. */
  readonly #sniffing = new Set<net.Socket>();
  readonly #sessions = new Map<http2.ServerHttp2Session, H2State>();
  readonly #h1Sockets = new Map<net.Socket, H1State>();
  readonly #closed: Record<ConnectionCloseReason, number> = {
    refused: 0,
    "first-bytes-timeout": 0,
    "headers-timeout": 0,
    "idle-timeout": 0,
  };
  /** The socket being handed to #h2 right now: its session is created synchronously, in emit. */
  #handingOff: { socket: net.Socket; deadline: NodeJS.Timeout; acceptedAt: number } | undefined;
  #closing = false;

  constructor(handlers: ListenerHandlers, options: ListenerOptions) {
    const handler = handlers.request;
    this.#limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
    this.#h2 = http2.createServer(
      {
        maxSessionMemory: options.maxSessionMemoryMb,
        maxSessionRejectedStreams: MAX_REJECTED_STREAMS_IN_A_ROW,
        settings: { maxConcurrentStreams: options.maxConcurrentStreams },
      },
      handler,
    );
    const onStream = handlers.stream;
    if (onStream !== undefined) {
      // Node serves a stream through its compatibility API from a 'stream'
      // listener it adds for the request handler; take it, and call it only
      // for the streams onStream passes on.
      const compat = this.#h2.listeners("stream") as ((...args: unknown[]) => void)[];
      this.#h2.removeAllListeners("stream");
      this.#h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
        // A stream the peer resets (RST_STREAM, e.g. REFUSED_STREAM) emits
        // 'error'; one refused or queued by onStream has no framework yet to
        // listen, and an unheard 'error' would end the process.
        stream.on("error", ignoreStreamError);
        onStream(stream, headers, () => {
          for (const listener of compat) listener.call(this.#h2, stream, headers, ...rest);
        });
      });
    }
    this.#h2.on("session", (session) => this.#trackSession(session));
    // No headersTimeout here: #h1 never listens, so Node would not arm it (see #armHeadersTimer).
    this.#h1 = http.createServer({ keepAliveTimeout: this.#limits.http1KeepAliveTimeoutMs }, (req, res) =>
      this.#serveH1(handler, req, res),
    );
    this.#tcp = net.createServer((socket) => this.#route(socket));
    this.#tcp.maxConnections = this.#limits.maxConnections;
    this.#tcp.on("drop", () => this.#closed.refused++);
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#tcp.once("error", reject);
      this.#tcp.listen(port, host, () => {
        this.#tcp.off("error", reject);
        resolve(this.#tcp.address() as net.AddressInfo);
      });
    });
  }

  stats(): ConnectionStats {
    let handshaking = 0;
    for (const state of this.#sessions.values()) if (!state.handshaken) handshaking++;
    return {
      open: {
        sniffing: this.#sniffing.size + handshaking,
        http1: this.#h1Sockets.size,
        http2: this.#sessions.size - handshaking,
      },
      closed: { ...this.#closed },
      limits: { ...this.#limits },
    };
  }

  /**
   * close stops accepting connections, lets in-flight requests finish (HTTP/2
   * sessions get GOAWAY, so clients send new calls elsewhere; HTTP/1.1
   * sockets close once their current response is out, idle ones and ones
   * still sending headers at once; sockets still being sniffed at once) and
   * resolves when every connection is gone or the grace period has passed,
   * then destroys whatever is left.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    for (const socket of this.#sniffing) socket.destroy();
    for (const [session, state] of this.#sessions) {
      // Before the handshake there is nothing to drain.
      if (state.handshaken) this.#goAway(session, state);
      else this.#destroySession(session, state);
    }
    for (const [socket, state] of this.#h1Sockets) if (state.active === 0) socket.destroySoon();
    const drained = Promise.all([closed, this.#sessionsClosed(), this.#h1Closed()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([drained, grace]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (const [session, state] of this.#sessions) this.#destroySession(session, state);
      for (const socket of this.#h1Sockets.keys()) socket.destroy();
      await drained;
    }
  }

  /** #route reads a new connection's first bytes until they decide its destination. */
  #route(socket: net.Socket): void {
    this.#sniffing.add(socket);
    const acceptedAt = performance.now();
    const deadline = setTimeout(() => {
      this.#closed["first-bytes-timeout"]++;
      socket.destroy();
    }, this.#limits.firstBytesTimeoutMs);
    let buffered = Buffer.alloc(0);
    const cleanup = () => {
      this.#sniffing.delete(socket);
      socket.off("readable", onReadable);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) buffered = Buffer.concat([buffered, chunk]);
      const destination = sniff(buffered, socket.readableEnded);
      if (destination === undefined) return;
      cleanup();
      socket.unshift(buffered);
      this.#handOff(socket, destination, deadline, acceptedAt);
    };
    const onError = () => socket.destroy();
    const onClose = () => {
      clearTimeout(deadline);
      cleanup();
    };
    socket.on("readable", onReadable);
    socket.on("error", onError);
    socket.on("close", onClose);
  }

  /**
   * #handOff gives a sniffed socket (its bytes unshifted back) to its server.
   * deadline is the first-bytes timer (armed at acceptedAt): HTTP/2 keeps it
   * until the handshake.
   */
  #handOff(socket: net.Socket, destination: Destination, deadline: NodeJS.Timeout, acceptedAt: number): void {
    switch (destination) {
      case "http1":
        clearTimeout(deadline);
        this.#trackH1(socket);
        this.#h1.emit("connection", socket);
        return;
      case "http2":
        this.#handingOff = { socket, deadline, acceptedAt };
        try {
          this.#h2.emit("connection", socket);
        } finally {
          this.#handingOff = undefined;
        }
        return;
    }
  }

  #trackSession(session: http2.ServerHttp2Session): void {
    const handOff = this.#handingOff;
    this.#handingOff = undefined;
    const state: H2State = { socket: handOff?.socket, streams: 0, timer: undefined, handshaken: false, goneAway: false };
    this.#sessions.set(session, state);
    if (handOff !== undefined) {
      // The first-bytes deadline now covers the rest of the preface.
      clearTimeout(handOff.deadline);
      const left = this.#limits.firstBytesTimeoutMs - (performance.now() - handOff.acceptedAt);
      state.timer = setTimeout(
        () => {
          this.#closed["first-bytes-timeout"]++;
          this.#destroySession(session, state);
        },
        Math.max(0, left),
      );
    }
    const armIdle = () => {
      clearTimeout(state.timer);
      state.timer = setTimeout(() => {
        this.#closed["idle-timeout"]++;
        this.#goAway(session, state);
      }, this.#limits.http2IdleTimeoutMs);
    };
    session.once("remoteSettings", () => {
      state.handshaken = true;
      if (state.streams === 0 && !state.goneAway) armIdle();
    });
    session.on("stream", (stream) => {
      if (state.streams++ === 0) clearTimeout(state.timer);
      stream.once("close", () => {
        if (--state.streams > 0) return;
        if (state.goneAway) this.#linger(state);
        else if (state.handshaken) armIdle();
      });
    });
    session.once("close", () => {
      clearTimeout(state.timer);
      this.#sessions.delete(session);
    });
    // A connection accepted just before close() began: GOAWAY at once.
    if (this.#closing) this.#goAway(session, state);
  }

  /** #goAway closes a session gracefully: GOAWAY, its streams finish, then its socket goes. */
  #goAway(session: http2.ServerHttp2Session, state: H2State): void {
    if (state.goneAway) return;
    state.goneAway = true;
    clearTimeout(state.timer);
    session.close();
    if (state.streams === 0) this.#linger(state);
  }

  #linger(state: H2State): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => state.socket?.destroy(), GOAWAY_LINGER_MS);
  }

  #destroySession(session: http2.ServerHttp2Session, state: H2State): void {
    clearTimeout(state.timer);
    session.destroy();
    state.socket?.destroy();
  }

  #trackH1(socket: net.Socket): void {
    const state: H1State = { active: 0, headersTimer: undefined };
    this.#h1Sockets.set(socket, state);
    this.#armHeadersTimer(socket, state, this.#limits.http1HeadersTimeoutMs);
    socket.once("close", () => {
      clearTimeout(state.headersTimer);
      this.#h1Sockets.delete(socket);
    });
  }

  /**
   * #armHeadersTimer gives the socket ms to deliver its next request's
   * headers. Between requests (idleSince: bytesRead when the last response
   * was out) a socket that sent nothing since is merely idle: Node's
   * keep-alive timeout normally closes it first, and if not, it is closed
   * quietly, without a 408 or a count.
   */
  #armHeadersTimer(socket: net.Socket, state: H1State, ms: number, idleSince?: number): void {
    clearTimeout(state.headersTimer);
    state.headersTimer = setTimeout(() => {
      if (idleSince !== undefined && socket.bytesRead === idleSince) {
        socket.destroy();
        return;
      }
      // No response is being written (none is active): the socket is ours to answer.
      this.#closed["headers-timeout"]++;
      socket.end(REQUEST_TIMEOUT_RESPONSE);
      socket.destroySoon();
    }, ms);
  }

  #serveH1(handler: Handler, req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const state = this.#h1Sockets.get(socket);
    if (state !== undefined) {
      state.active++;
      clearTimeout(state.headersTimer);
      state.headersTimer = undefined;
    }
    // While draining, every response says Connection: close.
    if (this.#closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      if (state === undefined || !this.#h1Sockets.has(socket)) return;
      if (--state.active > 0) return;
      if (this.#closing) socket.destroySoon();
      else {
        const { http1KeepAliveTimeoutMs, http1HeadersTimeoutMs } = this.#limits;
        this.#armHeadersTimer(socket, state, http1KeepAliveTimeoutMs + http1HeadersTimeoutMs, socket.bytesRead);
      }
    });
    handler(req, res);
  }

  #h1Closed(): Promise<void> {
    return Promise.all(
      [...this.#h1Sockets.keys()].map(
        (socket) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve()))),
      ),
    ).then(() => undefined);
  }

  #sessionsClosed(): Promise<void> {
    return Promise.all(
      [...this.#sessions.keys()].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once("close", () => resolve())))),
    ).then(() => undefined);
  }
}

// A reset stream is the peer's decision; its call (if any) already ended.
function ignoreStreamError(): void {}
