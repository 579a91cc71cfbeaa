// hpack.js ships no types; this is the part the benchmark's client uses.
declare module "hpack.js" {
  interface HeaderField {
    name: string;
    value: string;
  }
  interface Decompressor {
    write(block: Buffer): boolean;
    execute(): void;
    read(): HeaderField | null;
  }
  const hpack: { decompressor: { create(options: { table: { size: number } }): Decompressor } };
  export default hpack;
}
