import { describe, expect, it } from "vitest";
import { sniff } from "./listener.js";

const bytes = (text: string) => Buffer.from(text, "latin1");

describe("sniff", () => {
  it("decides HTTP/1.1 from the first byte that differs from HTTP/2's preface", () => {
    expect(sniff(bytes("G"), false)).toBe("http1");
    expect(sniff(bytes("P"), false)).toBeUndefined();
    expect(sniff(bytes("PO"), false)).toBe("http1");
    expect(sniff(bytes("PR"), false)).toBeUndefined();
    // WebDAV's PROPFIND shares two bytes with the preface, not three.
    expect(sniff(bytes("PROPFIND / HTTP/1.1\r\n"), false)).toBe("http1");
  });

  it("decides HTTP/2 from PRI", () => {
    expect(sniff(bytes("PRI"), false)).toBe("http2");
    expect(sniff(bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), false)).toBe("http2");
  });

  it("hands a connection that ended early to HTTP/1.1, which answers or closes it", () => {
    expect(sniff(bytes(""), true)).toBe("http1");
    expect(sniff(bytes("PR"), true)).toBe("http1");
    expect(sniff(bytes(""), false)).toBeUndefined();
  });
});
