import { describe, expect, it } from "vitest";
import { FLAGS, HELP, parseCli, UNSUPPORTED, type CliConfig } from "./cli-args.js";
import { OptionsError, scheduledRate } from "./options.js";

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
    ["--concurrency-schedule", "step"],
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
    expect(() => run(["--call", "x", "-O", "influx-details", "h:1"])).toThrow(/influx-details is not implemented/);
    expect(() => run(["--call", "x", "-O", "xml", "h:1"])).toThrow(/--format xml is not supported/);
  });

  it("takes ghz's csv, prometheus and influx-summary formats; csv turns on per-call details", () => {
    expect(run(["--call", "x", "-O", "csv", "h:1"])).toMatchObject({ format: "csv", load: { details: true } });
    expect(run(["--call", "x", "-O", "prometheus", "h:1"])).toMatchObject({ format: "prometheus", load: { details: false } });
    expect(run(["--call", "x", "-O", "influx-summary", "h:1"]).format).toBe("influx-summary");
  });

  it("takes --protocol grpcweb and --count-errors", () => {
    expect(run(["--call", "x", "--protocol", "grpcweb", "--count-errors", "h:1"]).load).toMatchObject({ protocol: "grpcweb", countErrors: true });
    expect(() => run(["--call", "x", "--protocol", "http3", "h:1"])).toThrow(/grpc, connect, grpcweb/);
  });

  it("maps ghz's load schedules", () => {
    const step = run(["--call", "x", "--load-schedule", "step", "--load-start", "10", "--load-step", "5",
      "--load-step-duration", "2s", "--load-end", "30", "-z", "20s", "h:1"]);
    expect(step.load.loadSchedule).toEqual({ kind: "step", start: 10, step: 5, stepDurationMs: 2000, end: 30 });
    const line = run(["--call", "x", "--load-schedule", "line", "--load-start", "100", "--load-step=-2.5",
      "--load-end", "20", "--load-max-duration", "30s", "h:1"]);
    expect(line.load.loadSchedule).toEqual({ kind: "line", start: 100, step: -2.5, end: 20, maxDurationMs: 30_000 });
    expect(() => run(["--call", "x", "--load-start", "10", "h:1"])).toThrow(/--load-start needs --load-schedule step or line/);
    expect(() => run(["--call", "x", "--load-schedule", "step", "--load-start", "10", "h:1"])).toThrow(/--load-step/);
    expect(() => run(["--call", "x", "--load-schedule", "wave", "h:1"])).toThrow(/const, step or line/);
    expect(run(["--call", "x", "--load-schedule", "const", "--rps", "5", "h:1"]).load).toMatchObject({ rps: 5 });
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

  it("takes every flag's long name as a config key (but not command-line-only ones)", () => {
    const c = run(["--config", "g.json"], {
      "g.json": JSON.stringify({ host: "h:1", call: "x", "load-schedule": "line", "load-start": 5, "load-step": 1, "count-errors": true, protocol: "grpcweb" }),
    });
    expect(c.load).toMatchObject({ loadSchedule: { kind: "line", start: 5, step: 1 }, countErrors: true, protocol: "grpcweb" });
    expect(() => run(["--config", "g.json"], { "g.json": '{"host":"h:1","no-progress":true}' })).toThrow(/unknown key "no-progress"/);
  });

  it("derives --help from the one flag table: every flag shown, none both supported and rejected", () => {
    for (const [name, f] of Object.entries(FLAGS)) {
      if (!f.hidden) expect(HELP).toContain(`--${name}`);
      expect(UNSUPPORTED).not.toHaveProperty(name);
    }
    for (const name of Object.keys(UNSUPPORTED)) expect(HELP).toContain(`--${name}`);
  });

  it("needs a host", () => {
    expect(() => run(["--call", "x"])).toThrow(/host:port/);
  });

  it("answers --help", () => {
    expect(parseCli(["--help"]).kind).toBe("help");
  });
});

describe("scheduledRate (ghz's step and line schedules)", () => {
  it("steps every step duration, then holds at the end rate", () => {
    const s = { kind: "step", start: 10, step: 5, stepDurationMs: 1000, end: 20 } as const;
    expect([0, 999, 1000, 2500, 60_000].map((t) => scheduledRate(s, t))).toEqual([10, 10, 15, 20, 20]);
  });

  it("rises or falls linearly per second, stops changing after the max duration", () => {
    expect(scheduledRate({ kind: "line", start: 10, step: 2 }, 1500)).toBe(13);
    expect(scheduledRate({ kind: "line", start: 10, step: 2, maxDurationMs: 1000 }, 5000)).toBe(12);
    expect(scheduledRate({ kind: "line", start: 100, step: -10, end: 40 }, 9000)).toBe(40);
    // Never below one call per second.
    expect(scheduledRate({ kind: "line", start: 5, step: -10, end: 0.5 }, 9000)).toBe(1);
  });
});
