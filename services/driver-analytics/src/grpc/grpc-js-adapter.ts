import type http2 from "node:http2";
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { CallContext, CallPipeline, MethodRef } from "../core/call-pipeline.js";
import { methodRefs } from "../core/methods.js";
import { REQUEST_ID_HEADER } from "../core/request-id.js";
import type { ServedService } from "../core/served-service.js";
import { binaryEncoder } from "./binary-encoder.js";
import { MetadataHeaders } from "./metadata-headers.js";

/** GrpcStreamHandler serves one HTTP/2 stream that carries a gRPC call. */
export type GrpcStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

export interface GrpcJsAdapterOptions {
  /** Largest request message, in bytes. */
  readMaxBytes: number;
}

/**
 * createGrpcJsStreamHandler serves gRPC (application/grpc, not gRPC-Web) with
 * @grpc/grpc-js, which costs a fraction of connect-node's CPU per call. The
 * listener owns every HTTP/2 session (connection limits, idle timeouts,
 * GOAWAY on shutdown) and hands grpc-js only the streams that are gRPC, so
 * Connect and gRPC-Web keep working on the same connections and port.
 * Handlers are the same ServiceImpl objects connect-node serves, behind the
 * same CallPipeline.
 *
 * grpc-js has no public API to serve a stream of someone else's session
 * (only whole connections, through createConnectionInjector, and which
 * connection carries gRPC is only known from its first request, which a
 * grpc-js client sends only after the server's SETTINGS). Its per-stream
 * entry point exists, so this uses it, pinned to the installed version: it
 * returns undefined (the caller serves gRPC with connect-node) if that entry
 * point is missing, and a test fails if the fast path is not taken.
 */
export function createGrpcJsStreamHandler(
  pipeline: CallPipeline,
  services: readonly ServedService[],
  options: GrpcJsAdapterOptions,
): GrpcStreamHandler | undefined {
  const server = new grpc.Server({
    "grpc.enable_channelz": 0,
    "grpc.max_receive_message_length": options.readMaxBytes,
  });
  const refs = methodRefs(services.map((s) => s.desc));
  for (const { desc, impl } of services) {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of desc.methods) {
      const ref = refs.get(`${desc.typeName}/${method.name}`)!;
      definition[method.localName] = grpcMethodDefinition(desc, method);
      const fn = (impl as Record<string, unknown>)[method.localName];
      if (typeof fn !== "function") continue;
      implementation[method.localName] = grpcHandler(pipeline, ref, method, fn.bind(impl) as ImplFn);
    }
    server.addService(definition as grpc.ServiceDefinition, implementation);
  }
  const entry = (server as unknown as { _streamHandler?: unknown })._streamHandler;
  if (typeof entry !== "function") return undefined;
  const handleStream = entry.bind(server, []) as GrpcStreamHandler;
  return (stream, headers) => handleStream(stream, headers);
}

/** isGrpcContentType: gRPC proper, which grpc-js serves (gRPC-Web stays on connect-node). */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return (
    contentType !== undefined &&
    contentType.startsWith("application/grpc") &&
    !contentType.startsWith("application/grpc-web")
  );
}

// A request grpc-js could not decode: handed to the handler, which answers
// INVALID_ARGUMENT (grpc-js itself would answer INTERNAL).
class UndecodableRequest {}

/** grpcMethodDefinition: grpc-js's view of a protobuf-es method, undecodable requests kept for the handler to refuse. */
export function grpcMethodDefinition(service: DescService, method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const decode = (schema: DescMessage) => (bytes: Buffer) => {
    try {
      return fromBinary(schema, bytes);
    } catch {
      return new UndecodableRequest();
    }
  };
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
    requestDeserialize: decode(method.input),
    responseSerialize: binaryEncoder(method.output) as (message: unknown) => Buffer,
    responseDeserialize: decode(method.output),
  };
}

type ImplFn = (request: any, context: HandlerContext) => any;

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

function grpcHandler(pipeline: CallPipeline, ref: MethodRef, method: DescMethod, fn: ImplFn): grpc.UntypedHandleCall {
  const serve = (
    call: AnyCall,
    body: (ctx: CallContext, context: HandlerContext, out: ResponseMetadata) => Promise<void>,
    fail: (status: Partial<grpc.StatusObject>) => void,
  ) => {
    const { context, call: ctx, out, dispose } = begin(pipeline, ref, method, call);
    void pipeline.run(ctx, async () => {
      try {
        await pipeline.authenticate(ctx);
        await body(ctx, context, out);
        pipeline.succeed(ctx);
      } catch (error) {
        fail(statusOf(pipeline.fail(ctx, error)));
      } finally {
        dispose();
      }
    });
  };
  switch (method.methodKind) {
    case "unary":
      return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        serve(
          call,
          async (ctx, context, out) => {
            const request = decoded(call.request);
            pipeline.authorize(ctx, request);
            const response = await fn(request, context);
            call.sendMetadata(out.header);
            callback(null, response, trailersOf(out));
          },
          (status) => callback(status),
        );
    case "server_streaming":
      return (call: grpc.ServerWritableStream<unknown, unknown>) =>
        serve(
          call,
          async (ctx, context, out) => {
            const request = decoded(call.request);
            pipeline.authorize(ctx, request);
            call.sendMetadata(out.header);
            await writeAll(call, fn(request, context) as AsyncIterable<unknown>);
            call.end(trailersOf(out));
          },
          (status) => call.emit("error", status),
        );
    default:
      return (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        serve(
          call,
          async (ctx, context, out) => {
            pipeline.authorize(ctx, undefined);
            call.sendMetadata(out.header);
            const responses = fn(decodedStream(call), context);
            if (method.methodKind === "client_streaming") call.write(await responses);
            else await writeAll(call, responses as AsyncIterable<unknown>);
            call.end(trailersOf(out));
          },
          (status) => call.emit("error", status),
        );
  }
}

/** writeAll writes every message, waiting for the stream to drain when its buffer is full. */
async function writeAll(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, messages: AsyncIterable<unknown>) {
  for await (const message of messages) {
    if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
  }
}

/**
 * begin starts the call in the pipeline and builds the handler's context: a
 * signal that aborts when grpc-js reports the call cancelled (the client
 * cancelled, reset the stream, or its deadline passed), with the reason a
 * caller would see.
 */
function begin(pipeline: CallPipeline, ref: MethodRef, method: DescMethod, call: AnyCall) {
  const controller = new AbortController();
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const onCancelled = () => {
    const expired = Number.isFinite(deadlineMs) && Date.now() >= deadlineMs;
    controller.abort(
      expired
        ? new ConnectError("the operation timed out", Code.DeadlineExceeded)
        : new ConnectError("operation was aborted via signal", Code.Canceled),
    );
  };
  const events = call as unknown as NodeJS.EventEmitter;
  events.once("cancelled", onCancelled);
  const requestHeader = new MetadataHeaders(call.metadata);
  const ctx: CallContext = pipeline.begin(ref, requestHeader, controller.signal, "grpc");
  // The handler's response headers and trailers are written straight into
  // the Metadata grpc-js sends.
  const out: ResponseMetadata = { header: new grpc.Metadata(), trailer: new grpc.Metadata() };
  out.header.set(REQUEST_ID_HEADER, ctx.requestId);
  const context = {
    service: method.parent,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: ref.key,
    peer: { addr: "" },
    signal: controller.signal,
    timeoutMs: () => (Number.isFinite(deadlineMs) ? deadlineMs - Date.now() : undefined),
    requestHeader,
    responseHeader: new MetadataHeaders(out.header),
    responseTrailer: new MetadataHeaders(out.trailer),
    values: createContextValues(),
  } as unknown as HandlerContext;
  return { context, call: ctx, out, dispose: () => events.off("cancelled", onCancelled) };
}

function decoded(request: unknown): unknown {
  if (request instanceof UndecodableRequest) {
    throw new ConnectError("request message could not be decoded", Code.InvalidArgument);
  }
  return request;
}

async function* decodedStream(call: grpc.ServerDuplexStream<unknown, unknown>): AsyncIterable<unknown> {
  // Not `for await (... of call)`: that destroys the duplex when the requests
  // end, and with it the response side before the status is sent.
  for await (const message of call.iterator({ destroyOnReturn: false })) yield decoded(message);
}

/** ResponseMetadata: what a call sends besides its messages. */
interface ResponseMetadata {
  header: grpc.Metadata;
  trailer: grpc.Metadata;
}

function trailersOf(out: ResponseMetadata): grpc.Metadata | undefined {
  return Object.keys(out.trailer.getMap()).length === 0 ? undefined : out.trailer;
}

function statusOf(error: ConnectError): Partial<grpc.StatusObject> {
  return { code: error.code as number as grpc.status, details: error.rawMessage, metadata: metadataFrom(error.metadata) };
}

function metadataFrom(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => metadata.set(key, value));
  return metadata;
}
