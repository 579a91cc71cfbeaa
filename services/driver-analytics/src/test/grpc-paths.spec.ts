// Which framework serves which protocol on the one port: gRPC by grpc-js
// (unless GRPC_SERVER=connect), Connect and gRPC-Web by connect-node, on the
// same HTTP/2 connection.
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { insertFixtures } from "@driver-analytics/db/testing";
import { GetStatsRequestSchema } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPC_SERVER_KINDS } from "../config.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

const PATH = "/driveranalytics.v1.DriverAnalytics/GetStats";

function grpcFrame(bytes: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, 5);
  return frame;
}

interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": PATH, ...headers });
    const answer: RawAnswer = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
    stream.on("response", (h) => (answer.headers = h));
    stream.on("trailers", (h) => (answer.trailers = h));
    stream.on("data", (chunk: Buffer) => (answer.body = Buffer.concat([answer.body, chunk])));
    stream.on("end", () => resolve(answer));
    stream.on("error", reject);
    stream.end(body);
  });
}

describe.each(GRPC_SERVER_KINDS)("gRPC on %s, Connect and gRPC-Web on connect-node, one connection", (grpcServer) => {
  let t: TestServer;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    t = await startTestServer({ grpcServer });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n }],
    });
    session = http2.connect(t.baseUrl);
  });

  afterAll(async () => {
    session.close();
    await t.close();
  });

  it("serves all three protocols on one HTTP/2 connection, each by its framework", async () => {
    expect(t.server.grpcServer).toBe(grpcServer);
    const message = toBinary(GetStatsRequestSchema, create(GetStatsRequestSchema, { driverId: 1n }));
    const auth = { authorization: `Bearer ${t.token}` };
    const grpc = await request(session, { "content-type": "application/grpc", te: "trailers", ...auth }, grpcFrame(message));
    expect(grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"]).toBe("0");
    // grpc-js advertises the encodings it accepts; connect-node does not list identity.
    const acceptEncoding = String(grpc.headers["grpc-accept-encoding"]);
    if (grpcServer === "grpc-js") expect(acceptEncoding).toContain("identity");
    else expect(acceptEncoding).not.toContain("identity");

    const web = await request(session, { "content-type": "application/grpc-web+proto", ...auth }, grpcFrame(message));
    expect(web.headers[":status"]).toBe(200);
    expect(web.body.toString("latin1")).toContain("grpc-status: 0");

    const connect = await request(session, { "content-type": "application/json", ...auth }, Buffer.from('{"driverId":"1"}'));
    expect(connect.headers[":status"]).toBe(200);
    expect(JSON.parse(connect.body.toString()).stats.totalTrips).toBe("1");
    for (const answer of [grpc, web, connect]) expect(answer.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  // connect-node answers INTERNAL here unpatched: patches/@connectrpc__connect*.patch.
  it("answers an undecodable gRPC message with INVALID_ARGUMENT, not INTERNAL", async () => {
    const garbage = grpcFrame(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const answer = await request(session, { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${t.token}` }, garbage);
    expect(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"]).toBe("3");
  });
});
