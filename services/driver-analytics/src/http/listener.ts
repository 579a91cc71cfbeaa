import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/**
 * DEFAULT_MAX_CONCURRENT_STREAMS per HTTP/2 connection, as Go's HTTP/2 server
 * does. Past it a client queues calls itself, where they cost this server
 * nothing: under twice its capacity the server kept 1.6x more calls OK with
 * 250 than with 2,000 (the excess parsed and refused here ate its CPU), and
 * 10,000 clients over 16 connections were all served either way.
 */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 250;

export interface ListenerOptions {
  /** Per-connection cap on concurrent HTTP/2 streams (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /**
   * HTTP/2 session memory in MB. Node's default (10) makes a busy connection
   * refuse new streams with ENHANCE_YOUR_CALM, then close.
   */
  maxSessionMemoryMb: number;
}

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** ListenerHandlers: what serves HTTP requests, and what sees every HTTP/2 stream first. */
export interface ListenerHandlers {
  /** HTTP/1.1 requests, and HTTP/2 streams passed on by `stream`, through Node's compatibility API. */
  request: Handler;
  /**
   * stream sees each HTTP/2 stream on arrival, with its headers, before
   * Node builds request/response objects for it: it may answer the stream
   * itself, hand it to another server, or call serveAsRequest.
   */
  stream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, serveAsRequest: () => void) => void;
}

const H2_PREFACE_START = "PRI";

/**
 * Listener serves one port for HTTP/2 cleartext (gRPC, and Connect/gRPC-Web
 * over h2c) and HTTP/1.1 (Connect and gRPC-Web from browsers and curl): it
 * reads the first bytes of each connection and hands the socket to the HTTP/2
 * or the HTTP/1.1 server. Node cannot do this by itself without TLS/ALPN.
 */
export class Listener {
  readonly #tcp: net.Server;
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  // HTTP/1.1 sockets and how many requests each is serving. Sockets are
  // handed to #h1 by emit("connection"), so http.Server.close() neither
  // counts nor waits for them: draining them is ours.
  readonly #h1Sockets = new Map<net.Socket, number>();
  #closing = false;

  constructor(handlers: ListenerHandlers, options: ListenerOptions) {
    const handler = handlers.request;
    this.#h2 = http2.createServer(
      { maxSessionMemory: options.maxSessionMemoryMb, settings: { maxConcurrentStreams: options.maxConcurrentStreams } },
      handler,
    );
    const onStream = handlers.stream;
    if (onStream !== undefined) {
      // Node serves a stream through its compatibility API from a 'stream'
      // listener it adds for the request handler; take it, and call it only
      // for the streams onStream passes on.
      const compat = this.#h2.listeners("stream") as ((...args: unknown[]) => void)[];
      this.#h2.removeAllListeners("stream");
      this.#h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) =>
        onStream(stream, headers, () => {
          for (const listener of compat) listener.call(this.#h2, stream, headers, ...rest);
        }),
      );
    }
    this.#h2.on("session", (session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
      // A connection accepted just before close() began: GOAWAY at once.
      if (this.#closing) session.close();
    });
    this.#h1 = http.createServer((req, res) => this.#serveH1(handler, req, res));
    this.#h1.on("connection", (socket: net.Socket) => {
      this.#h1Sockets.set(socket, 0);
      socket.once("close", () => this.#h1Sockets.delete(socket));
    });
    this.#tcp = net.createServer((socket) => this.#route(socket));
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

  /**
   * close stops accepting connections, lets in-flight requests finish (HTTP/2
   * sessions get GOAWAY, so clients send new calls elsewhere; HTTP/1.1
   * sockets close once their current response is out, idle ones at once) and
   * resolves when every connection is gone or the grace period has passed,
   * then destroys whatever is left.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    for (const [socket, active] of this.#h1Sockets) if (active === 0) socket.end();
    const drained = Promise.all([closed, this.#sessionsClosed(), this.#h1Closed()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([drained, grace]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (const session of this.#sessions) session.destroy();
      for (const socket of this.#h1Sockets.keys()) socket.destroy();
      await drained;
    }
  }

  #serveH1(handler: Handler, req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    this.#h1Sockets.set(socket, (this.#h1Sockets.get(socket) ?? 0) + 1);
    // While draining, every response says Connection: close.
    if (this.#closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      const active = (this.#h1Sockets.get(socket) ?? 1) - 1;
      if (!this.#h1Sockets.has(socket)) return;
      this.#h1Sockets.set(socket, active);
      if (this.#closing && active === 0) socket.end();
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
      [...this.#sessions].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once("close", () => resolve())))),
    ).then(() => undefined);
  }

  #route(socket: net.Socket): void {
    let buffered = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < H2_PREFACE_START.length && !socket.readableEnded) return;
      socket.off("readable", onReadable);
      socket.off("error", onError);
      socket.unshift(buffered);
      const isH2 = buffered.subarray(0, H2_PREFACE_START.length).toString("latin1") === H2_PREFACE_START;
      (isH2 ? this.#h2 : this.#h1).emit("connection", socket);
    };
    const onError = () => socket.destroy();
    socket.on("readable", onReadable);
    socket.on("error", onError);
  }
}
