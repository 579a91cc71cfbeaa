// MetadataHeaders against the Fetch Headers it stands in for, on the same inputs.
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { MetadataHeaders } from "./metadata-headers.js";

function both(entries: [string, string][]): { fetch: Headers; ours: MetadataHeaders } {
  const metadata = new grpc.Metadata();
  for (const [key, value] of entries) metadata.add(key, value);
  return { fetch: new Headers(entries), ours: new MetadataHeaders(metadata) };
}

describe("MetadataHeaders", () => {
  it("reads as Headers does: case-insensitive names, repeated entries joined, sorted iteration", () => {
    const { fetch, ours } = both([
      ["x-request-id", "abc"],
      ["authorization", "Bearer t"],
      ["x-multi", "1"],
      ["x-multi", "2"],
    ]);
    for (const name of ["X-Request-Id", "authorization", "x-multi", "absent"]) {
      expect(ours.get(name)).toBe(fetch.get(name));
      expect(ours.has(name)).toBe(fetch.has(name));
    }
    expect([...ours]).toEqual([...fetch]);
    expect([...ours.keys()]).toEqual([...fetch.keys()]);
    expect([...ours.values()]).toEqual([...fetch.values()]);
    const seen: string[] = [];
    ours.forEach((value, key, parent) => {
      expect(parent).toBe(ours);
      seen.push(`${key}=${value}`);
    });
    expect(seen).toEqual(["authorization=Bearer t", "x-multi=1, 2", "x-request-id=abc"]);
  });

  it("writes into the Metadata grpc-js sends", () => {
    const metadata = new grpc.Metadata();
    const ours = new MetadataHeaders(metadata);
    ours.set("X-Consistency-Token", "0/16B3D40");
    ours.append("x-multi", "1");
    ours.append("x-multi", "2");
    expect(metadata.get("x-consistency-token")).toEqual(["0/16B3D40"]);
    expect(metadata.get("x-multi")).toEqual(["1", "2"]);
    ours.delete("x-multi");
    expect(ours.has("x-multi")).toBe(false);
    expect(ours.getSetCookie()).toEqual([]);
  });

  it("refuses what HTTP/2 cannot carry, as Headers does", () => {
    const ours = new MetadataHeaders(new grpc.Metadata());
    expect(() => ours.set("bad name", "v")).toThrow();
    expect(() => new Headers().set("bad name", "v")).toThrow();
    expect(() => ours.set("x-ok", "line\nbreak")).toThrow();
  });

  it("reads binary (-bin) entries as base64, their wire form", () => {
    const metadata = new grpc.Metadata();
    metadata.set("trace-bin", Buffer.from([1, 2, 3]));
    expect(new MetadataHeaders(metadata).get("trace-bin")).toBe("AQID");
  });
});
