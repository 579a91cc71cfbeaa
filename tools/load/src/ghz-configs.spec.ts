// The shipped ghz configs must load here too, and their data must fit the contract.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseCli } from "./cli-args.js";
import { callSource } from "./request-source.js";

const dir = fileURLToPath(new URL("../ghz/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("ghz/*.json", () => {
  it("ships GetStats and ListTrips at c=100, 1000 and 10000", () => {
    expect(files.sort()).toEqual(
      ["getstats", "listtrips"].flatMap((c) => [100, 1000, 10000].map((n) => `${c}-c${n}.json`)).sort(),
    );
  });

  it.each(files)("%s parses and its data renders into a valid request", (file) => {
    const cmd = parseCli(["--config", `${dir}${file}`]);
    if (cmd.kind !== "run") throw new Error("expected a run");
    const { load } = cmd;
    expect(load.connections).toBeGreaterThanOrEqual(1);
    // callSource builds the first message, so a data/schema mismatch throws here.
    const source = callSource(load.call as string, load.data, []);
    const out = { methodIndex: -1, message: undefined as never, headers: undefined };
    source.next({ requestNumber: 0, workerId: 0, state: { driverId: 0n, token: "", depth: 0 } }, out);
    const driverId = (out.message as { driverId: bigint }).driverId;
    expect(driverId >= 1n && driverId <= 1000n).toBe(true);
  });
});
