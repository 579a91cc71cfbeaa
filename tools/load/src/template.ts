// Per-request data templating compatible with the subset of ghz's Go templates
// that load tests actually use. Templates are compiled once, up front, into
// closures, so a request costs a few string concatenations, not a parse.
import { randomUUID } from "node:crypto";
import { ScalarType, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";

/** What a template can see about the request being made. */
export interface TemplateContext {
  /** 0-based number of the request within the run (ghz: .RequestNumber). */
  readonly requestNumber: number;
  /** 0-based worker index, 0..concurrency-1 (ghz: .WorkerID, which there is a string). */
  readonly workerId: number;
}

/** Names of the call, for .FullyQualifiedName, .MethodName and friends. */
export interface CallNames {
  readonly fullyQualifiedName: string;
  readonly methodName: string;
  readonly serviceName: string;
  readonly inputName: string;
  readonly outputName: string;
}

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

type Part = string | ((ctx: TemplateContext) => string);

export interface CompiledTemplate {
  /** True when the text has at least one {{action}}. */
  readonly dynamic: boolean;
  /** True when the whole text is exactly one action, e.g. "{{.RequestNumber}}". */
  readonly whole: boolean;
  render(ctx: TemplateContext): string;
}

const ACTION = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;

/** Compiles Go-template text with the ghz fields and functions we support. */
export function compileTemplate(text: string, names: CallNames): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  ACTION.lastIndex = 0;
  for (let m = ACTION.exec(text); m !== null; m = ACTION.exec(text)) {
    let literal = text.slice(last, m.index);
    if (m[1] === "-") literal = literal.trimEnd();
    if (literal !== "") parts.push(literal);
    parts.push(compileAction(m[2] as string, names));
    last = ACTION.lastIndex;
    if (m[3] === "-") {
      const rest = text.slice(last);
      last += rest.length - rest.trimStart().length;
    }
  }
  const tail = text.slice(last);
  if (tail !== "") parts.push(tail);
  if (tail.includes("{{")) throw new TemplateError(`unterminated template action in ${JSON.stringify(text)}`);

  const dynamic = parts.some((p) => typeof p === "function");
  const whole = parts.length === 1 && typeof parts[0] === "function";
  if (!dynamic) return { dynamic, whole, render: () => text };
  if (whole) {
    const only = parts[0] as (ctx: TemplateContext) => string;
    return { dynamic, whole, render: only };
  }
  return {
    dynamic,
    whole,
    render(ctx) {
      let out = "";
      for (const p of parts) out += typeof p === "string" ? p : p(ctx);
      return out;
    },
  };
}

function compileAction(source: string, names: CallNames): (ctx: TemplateContext) => string {
  const tokens = tokenize(source);
  const head = tokens[0];
  if (head === undefined) throw new TemplateError("empty template action {{}}");
  if (head.startsWith(".")) {
    if (tokens.length !== 1) throw new TemplateError(`unexpected arguments after ${head} in {{${source}}}`);
    return field(head, names);
  }
  const args = tokens.slice(1);
  switch (head) {
    case "newUUID":
      arity(head, args, 0);
      return () => randomUUID();
    case "randomString": {
      arity(head, args, 1);
      const len = intArg(head, args[0] as string);
      return () => randomString(len);
    }
    // randomInt: inclusive [min, max], so "{{randomInt 1 1000}}" covers drivers 1..1000.
    case "randomInt": {
      arity(head, args, 2);
      const min = intArg(head, args[0] as string);
      const max = intArg(head, args[1] as string);
      if (max < min) throw new TemplateError(`randomInt: max ${max} < min ${min}`);
      const span = max - min + 1;
      return () => String(min + Math.floor(Math.random() * span));
    }
    // randInt: sprig's half-open [min, max), kept with sprig's meaning for copied configs.
    case "randInt": {
      arity(head, args, 2);
      const min = intArg(head, args[0] as string);
      const max = intArg(head, args[1] as string);
      if (max <= min) throw new TemplateError(`randInt: max ${max} <= min ${min}`);
      const span = max - min;
      return () => String(min + Math.floor(Math.random() * span));
    }
    default:
      throw new TemplateError(
        `unsupported template function "${head}" in {{${source}}}; supported: .RequestNumber, .WorkerID, ` +
          ".Timestamp, .TimestampUnix, .TimestampUnixMilli, .TimestampUnixNano, .UUID, .FullyQualifiedName, " +
          ".MethodName, .ServiceName, .InputName, .OutputName, newUUID, randomString N, randomInt MIN MAX, randInt MIN MAX",
      );
  }
}

function field(name: string, names: CallNames): (ctx: TemplateContext) => string {
  switch (name) {
    case ".RequestNumber":
      return (ctx) => String(ctx.requestNumber);
    case ".WorkerID":
      return (ctx) => String(ctx.workerId);
    case ".Timestamp":
      // RFC 3339 without fractional seconds, like Go's time.RFC3339.
      return () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    case ".TimestampUnix":
      return () => String(Math.floor(Date.now() / 1000));
    case ".TimestampUnixMilli":
      return () => String(Date.now());
    case ".TimestampUnixNano":
      return () => (BigInt(Date.now()) * 1_000_000n).toString();
    case ".UUID":
      return () => randomUUID();
    case ".FullyQualifiedName":
      return () => names.fullyQualifiedName;
    case ".MethodName":
      return () => names.methodName;
    case ".ServiceName":
      return () => names.serviceName;
    case ".InputName":
      return () => names.inputName;
    case ".OutputName":
      return () => names.outputName;
    case ".IsClientStreaming":
    case ".IsServerStreaming":
      return () => "false";
    default:
      throw new TemplateError(`unknown template field ${name}`);
  }
}

function tokenize(source: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|\S+/g;
  for (let m = re.exec(source); m !== null; m = re.exec(source)) {
    const t = m[0];
    out.push(t.startsWith('"') ? (JSON.parse(t) as string) : t);
  }
  return out;
}

function arity(fn: string, args: string[], n: number): void {
  if (args.length !== n) throw new TemplateError(`${fn} takes ${n} argument(s), got ${args.length}`);
}

function intArg(fn: string, arg: string): number {
  if (!/^-?\d+$/.test(arg)) throw new TemplateError(`${fn}: "${arg}" is not an integer`);
  return Number(arg);
}

const CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function randomString(length: number): string {
  const n = length > 0 ? length : 2 + Math.floor(Math.random() * 15);
  let s = "";
  for (let i = 0; i < n; i++) s += CHARSET[Math.floor(Math.random() * CHARSET.length)];
  return s;
}

// ---------------------------------------------------------------------------
// Request data

/**
 * Marks a string that stood for an unquoted template in the raw data text,
 * e.g. {"driver_id": {{.RequestNumber}}}: ghz runs its template over the JSON
 * text before parsing it, so that form is common in ghz commands.
 */
const RAW = "\u0000ghz-raw:";

/**
 * Parses -d/--data text. Plain JSON is parsed as is; JSON with unquoted
 * {{actions}} (valid only after templating, as ghz allows) is accepted too.
 */
export function parseDataText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    if (!text.includes("{{")) throw new Error(`--data is not valid JSON: ${(first as Error).message}`, { cause: first });
  }
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
      out += ch;
    } else if (text.startsWith("{{", i)) {
      const end = text.indexOf("}}", i + 2);
      if (end < 0) throw new TemplateError("unterminated template action in --data");
      out += JSON.stringify(RAW + text.slice(i, end + 2));
      i = end + 1;
    } else {
      out += ch;
    }
  }
  try {
    return JSON.parse(out);
  } catch (e) {
    throw new Error(`--data is not valid JSON even with templates in place: ${(e as Error).message}`, { cause: e });
  }
}

export interface CompiledData {
  /** False when every request sends the same message, so it can be built once. */
  readonly dynamic: boolean;
  render(ctx: TemplateContext): JsonValue;
}

/**
 * Compiles parsed request data against the input message schema. Templates may
 * sit in any string value; a numeric or bool field whose whole value is one
 * template gets the rendered text converted to that field's JSON type.
 */
export function compileData(value: unknown, schema: DescMessage, names: CallNames): CompiledData {
  return compileValue(value, schema, undefined, names);
}

function compileValue(
  value: unknown,
  message: DescMessage | undefined,
  scalar: ScalarType | undefined,
  names: CallNames,
): CompiledData {
  if (typeof value === "string") return compileString(value, scalar, names);
  if (Array.isArray(value)) {
    const items = value.map((v) => compileValue(v, message, scalar, names));
    if (!items.some((i) => i.dynamic)) return constant(value as JsonValue);
    return { dynamic: true, render: (ctx) => items.map((i) => i.render(ctx)) };
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).map(([key, v]) => {
      const f = message ? findField(message, key) : undefined;
      return [key, compileValue(v, fieldMessage(f), fieldScalar(f), names)] as const;
    });
    if (!entries.some(([, c]) => c.dynamic)) return constant(value as JsonValue);
    return {
      dynamic: true,
      render(ctx) {
        const out: Record<string, JsonValue> = {};
        for (const [key, c] of entries) out[key] = c.render(ctx);
        return out;
      },
    };
  }
  return constant(value as JsonValue);
}

function compileString(value: string, scalar: ScalarType | undefined, names: CallNames): CompiledData {
  const raw = value.startsWith(RAW);
  const tpl = compileTemplate(raw ? value.slice(RAW.length) : value, names);
  if (!tpl.dynamic) return constant(value);
  if (raw) {
    return { dynamic: true, render: (ctx) => parseRaw(tpl.render(ctx)) };
  }
  if (tpl.whole && scalar !== undefined) {
    const convert = converterFor(scalar);
    if (convert) return { dynamic: true, render: (ctx) => convert(tpl.render(ctx)) };
  }
  return { dynamic: true, render: (ctx) => tpl.render(ctx) };
}

function parseRaw(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

function converterFor(scalar: ScalarType): ((s: string) => JsonValue) | undefined {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
    case ScalarType.INT32:
    case ScalarType.UINT32:
    case ScalarType.SINT32:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return (s) => (s.trim() === "" || Number.isNaN(Number(s)) ? s : Number(s));
    // 64-bit integers travel as JSON strings in proto3 JSON: keep the exact digits.
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return (s) => s.trim();
    case ScalarType.BOOL:
      return (s) => (s === "true" ? true : s === "false" ? false : s);
    default:
      return undefined;
  }
}

function findField(message: DescMessage, key: string): DescField | undefined {
  return message.fields.find((f) => f.name === key || f.jsonName === key);
}

function fieldMessage(f: DescField | undefined): DescMessage | undefined {
  if (!f) return undefined;
  if (f.fieldKind === "message") return f.message;
  if (f.fieldKind === "list" && f.listKind === "message") return f.message;
  if (f.fieldKind === "map" && f.mapKind === "message") return undefined; // map keys are not fields
  return undefined;
}

function fieldScalar(f: DescField | undefined): ScalarType | undefined {
  if (!f) return undefined;
  if (f.fieldKind === "scalar") return f.scalar;
  if (f.fieldKind === "list" && f.listKind === "scalar") return f.scalar;
  return undefined;
}

function constant(value: JsonValue): CompiledData {
  return { dynamic: false, render: () => value };
}
