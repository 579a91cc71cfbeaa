import { describe, expect, it } from "vitest";
import { parseCli, type CliConfig } from "./cli-args.js";
import { OptionsError } from "./options.js";

const run = (argv: string[], files: Record<string, string> = {}): CliConfig => {
  const cmd = parseCli(argv, (p) => {
    const f = files[p];
    if (f === undefined) throw new OptionsError(`cannot read ${p}`);
    return f;
  });
  if (cmd.kind !== "run") throw new Error(`expected a run, got ${cmd.kind}`);
  return cmd;
};

describe("parseCli", () => {
  it("maps ghz flags with ghz's meaning", () => {
    const c = run([
      "--call", "driveranalytics.v1.DriverAnalytics.GetStats",
      "-c", "1000", "--connections", "8", "-n", "5000", "--rps", "300",
      "-d", '{"driver_id": {{randomInt 1 1000}}}', "-t", "5s", "--connect-timeout", "2s",
      "-m", '{"x-tenant": "a"}', "--skipFirst", "10", "-O", "json", "-o", "out.json", "--insecure",
      "localhost:8080",
    ]);
    expect(c.load).toMatchObject({
      host: "localhost:8080",
      call: "driveranalytics.v1.DriverAnalytics.GetStats",
      concurrency: 1000,
      connections: 8,
      total: 5000,
      rps: 300,
      timeoutMs: 5000,
      connectTimeoutMs: 2000,
      metadata: { "x-tenant": "a" },
      skipFirst: 10,
      protocol: "grpc",
    });
    expect(c.format).toBe("json");
    expect(c.output).toBe("out.json");
  });

  it("parses -z durations Go-style and --duration-stop", () => {
    const c = run(["--call", "driveranalytics.v1.DriverAnalytics.GetStats", "-z", "1m30s", "--duration-stop", "wait", "h:1"]);
    expect(c.load.durationMs).toBe(90_000);
    expect(c.load.durationStop).toBe("wait");
  });

  it.each([
    ["--proto", "x.proto"],
    ["--protoset", "x.protoset"],
    ["--cert", "c.pem"],
    ["--binary"],
    ["--stream-interval", "1s"],
    ["--lb-strategy", "round_robin"],
    ["--cpus", "2"],
    ["--load-schedule", "step"],
    ["--async"],
    ["--skipTLS"],
  ])("rejects the unsupported ghz option %s by name", (...flag) => {
    expect(() => run(["--call", "x", ...flag, "h:1"])).toThrow(new RegExp(`ghz option ${flag[0]} is not supported`));
  });

  it("rejects unsupported ghz short flags by their long name", () => {
    expect(() => run(["-b", "h:1"])).toThrow(/--binary is not supported/);
    expect(() => run(["-i", "protos", "h:1"])).toThrow(/--import-paths is not supported/);
    expect(() => run(["--proto=x.proto", "h:1"])).toThrow(/--proto is not supported/);
  });

  it("rejects unknown flags and unsupported formats", () => {
    expect(() => run(["--frobnicate", "h:1"])).toThrow(OptionsError);
    expect(() => run(["--call", "x", "-O", "csv", "h:1"])).toThrow(/csv/);
  });

  it("loads a ghz JSON config; flags override it", () => {
    const cfg = JSON.stringify({
      call: "driveranalytics.v1.DriverAnalytics.ListTrips",
      host: "db:9000",
      total: 100,
      concurrency: 10,
      connections: 2,
      timeout: "3s",
      data: { driver_id: "{{randomInt 1 1000}}" },
      metadata: { a: "b" },
      insecure: true,
    });
    const c = run(["--config", "g.json", "-c", "20"], { "g.json": cfg });
    expect(c.load).toMatchObject({
      host: "db:9000",
      call: "driveranalytics.v1.DriverAnalytics.ListTrips",
      total: 100,
      concurrency: 20,
      connections: 2,
      timeoutMs: 3000,
      data: { driver_id: "{{randomInt 1 1000}}" },
    });
  });

  it("rejects unsupported keys in a config file by name", () => {
    expect(() => run(["--config", "g.json"], { "g.json": '{"host":"h:1","protoset":"x"}' })).toThrow(
      /"protoset" is not supported/,
    );
    expect(() => run(["--config", "g.toml"])).toThrow(/only JSON/);
  });

  it("builds workloads from the extension flags", () => {
    const m = run(["--workload", "mixed", "--mix", "stats=70,list=30", "--drivers", "1-50", "--max-depth", "4", "h:1"]);
    expect(m.load.workload).toEqual({ kind: "mixed", mix: { stats: 70, list: 30 }, drivers: { min: 1, max: 50 }, maxDepth: 4 });
    const p = run(["--workload", "page-depth", "--depth", "20", "--page-size", "50", "h:1"]);
    expect(p.load.workload).toEqual({ kind: "page-depth", depth: 20, pageSize: 50 });
    expect(() => run(["--workload", "page-depth", "h:1"])).toThrow(/--depth/);
    expect(() => run(["--mix", "stats=1", "h:1"])).toThrow(/--workload/);
  });

  it("needs a host", () => {
    expect(() => run(["--call", "x"])).toThrow(/host:port/);
  });

  it("answers --help", () => {
    expect(parseCli(["--help"]).kind).toBe("help");
  });
});
