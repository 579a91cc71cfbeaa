import type * as grpc from "@grpc/grpc-js";

/**
 * MetadataHeaders is the Fetch Headers interface over a grpc-js Metadata,
 * so handlers written against connect's HandlerContext read and write a
 * grpc-js call's metadata directly, instead of copying it into a Fetch
 * Headers and the response back out (Fetch's Headers validates every name and
 * value through WebIDL: ~4 µs for a request's four headers on Node 24,
 * against ~0.6 µs for a Map of them).
 *
 * Names are case-insensitive; values of several entries are joined with ", "
 * as Headers does; binary (-bin) values read as base64, their wire form.
 * Writes go through Metadata's own checks, which throw on names or values
 * HTTP/2 cannot carry.
 */
export class MetadataHeaders implements Headers {
  readonly metadata: grpc.Metadata;

  constructor(metadata: grpc.Metadata) {
    this.metadata = metadata;
  }

  get(name: string): string | null {
    const values = this.metadata.get(name.toLowerCase());
    if (values.length === 0) return null;
    if (values.length === 1) return text(values[0]!);
    return values.map(text).join(", ");
  }

  has(name: string): boolean {
    return this.metadata.get(name.toLowerCase()).length > 0;
  }

  set(name: string, value: string): void {
    this.metadata.set(name.toLowerCase(), value);
  }

  append(name: string, value: string): void {
    this.metadata.add(name.toLowerCase(), value);
  }

  delete(name: string): void {
    this.metadata.remove(name.toLowerCase());
  }

  getSetCookie(): string[] {
    return this.metadata.get("set-cookie").map(text);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  *entries(): IterableIterator<[string, string]> {
    // Sorted by name, as Headers iterates.
    for (const key of Object.keys(this.metadata.getMap()).sort()) yield [key, this.get(key)!];
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

function text(value: grpc.MetadataValue): string {
  return typeof value === "string" ? value : value.toString("base64");
}
