import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

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

  constructor(handler: Handler, options: ListenerOptions) {
    this.#h2 = http2.createServer(
      { maxSessionMemory: options.maxSessionMemoryMb, settings: { maxConcurrentStreams: options.maxConcurrentStreams } },
      handler,
    );
    this.#h2.on("session", (session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
    });
    this.#h1 = http.createServer(handler);
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
   * sessions get GOAWAY; idle HTTP/1.1 sockets are closed) and resolves when
   * every connection is gone or the grace period has passed, then destroys
   * whatever is left.
   */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    this.#h1.closeIdleConnections();
    const h1Closed = new Promise<void>((resolve) => this.#h1.close(() => resolve()));
    const drained = Promise.all([closed, h1Closed, this.#sessionsClosed()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([drained, grace]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (const session of this.#sessions) session.destroy();
      this.#h1.closeAllConnections();
      await drained;
    }
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
