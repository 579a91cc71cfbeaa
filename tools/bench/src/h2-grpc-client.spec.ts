// The benchmark's frame-writing client against a real gRPC server (grpc-js, in process).
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONNECTION_LOST, H2GrpcClient, grpcFrame } from "./h2-grpc-client.js";

const identity = (b: Buffer) => b;
let server: grpc.Server;
let address: string;
const seen: { authorization: unknown; timeout: number }[] = [];

beforeAll(async () => {
  server = new grpc.Server();
  const method = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity });
  server.addService(
    { Echo: method("/t.T/Echo"), Refuse: method("/t.T/Refuse"), Hang: method("/t.T/Hang") } as grpc.ServiceDefinition,
    {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        const deadline = call.getDeadline();
        seen.push({ authorization: call.metadata.get("authorization")[0], timeout: (deadline instanceof Date ? deadline.getTime() : deadline) - Date.now() });
        done(null, Buffer.concat([call.request, call.request]));
      },
      Refuse: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        const metadata = new grpc.Metadata();
        metadata.set("grpc-retry-pushback-ms", "250");
        done({ code: grpc.status.UNAVAILABLE, details: "busy", metadata });
      },
      Hang: () => {},
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => server.forceShutdown());

function call(client: H2GrpcClient, path: string, timeoutMs = 2_000): Promise<{ code: number; pushbackMs: number | undefined }> {
  return new Promise((resolve) => client.call(path, grpcFrame(Buffer.from("ab")), "Bearer t", timeoutMs, (code, pushbackMs) => resolve({ code, pushbackMs })));
}

describe("H2GrpcClient", () => {
  it("makes unary calls with their metadata and deadline, many at once over each connection", async () => {
    const client = new H2GrpcClient(address, 2);
    await client.waitForReady();
    try {
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => call(client, "/t.T/Echo")));
      expect(outcomes.every((o) => o.code === 0)).toBe(true);
      expect(seen).toHaveLength(300);
      expect(seen.every((s) => s.authorization === "Bearer t" && s.timeout > 1_000 && s.timeout <= 2_000)).toBe(true);
    } finally {
      client.close();
    }
  });

  it("reports a refusal's status and pushback, an unknown method, and cancels at the deadline", async () => {
    const client = new H2GrpcClient(address, 1);
    await client.waitForReady();
    try {
      expect(await call(client, "/t.T/Refuse")).toEqual({ code: grpc.status.UNAVAILABLE, pushbackMs: 250 });
      expect((await call(client, "/t.T/Nope")).code).toBe(grpc.status.UNIMPLEMENTED);
      const started = performance.now();
      expect((await call(client, "/t.T/Hang", 100)).code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(performance.now() - started).toBeLessThan(1_000);
      // The connection still serves after the cancel.
      expect((await call(client, "/t.T/Echo")).code).toBe(0);
    } finally {
      client.close();
    }
  });

  it("reports calls lost with a connection the server ended as such, and makes a new one for the next call", async () => {
    // A server that ends the connection on /t.T/Drop (GOAWAY, then the socket
    // closes with calls open), holds /t.T/Hang, and answers anything else OK.
    const ending = http2.createServer();
    const sockets: Socket[] = [];
    ending.on("connection", (socket: Socket) => sockets.push(socket));
    ending.on("stream", (stream, headers) => {
      stream.on("error", () => undefined);
      if (headers[":path"] === "/t.T/Drop") {
        stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR);
        setTimeout(() => sockets.forEach((socket) => socket.destroy()), 50);
      }
      else if (headers[":path"] !== "/t.T/Hang") stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" }, { endStream: true });
    });
    await new Promise<void>((resolve) => ending.listen(0, "127.0.0.1", resolve));
    const client = new H2GrpcClient(`127.0.0.1:${(ending.address() as AddressInfo).port}`, 1);
    await client.waitForReady();
    try {
      expect((await call(client, "/t.T/Echo")).code).toBe(0);
      const [hung, dropped] = await Promise.all([call(client, "/t.T/Hang"), call(client, "/t.T/Drop")]);
      expect([hung.code, dropped.code]).toEqual([CONNECTION_LOST, CONNECTION_LOST]);
      expect((await call(client, "/t.T/Echo")).code).toBe(0);
      expect(client.reconnects).toBe(1);
    } finally {
      client.close();
      ending.close();
    }
  });
});
