import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import type { CallContext, CallPipeline, MethodRef } from "../core/call-pipeline.js";
import { methodRefs } from "../core/methods.js";
import { REQUEST_ID_HEADER } from "../core/request-id.js";

const callKey = createContextKey<CallContext | undefined>(undefined, { description: "the call's pipeline context" });

/**
 * connectRules runs the call pipeline on connect-node: the request gate
 * (headers only, before the body is read) begins the call and authenticates
 * it; one interceptor authorizes the decoded message, runs the handler and
 * ends the call. Nothing here is a rule of its own.
 */
export function connectRules(
  pipeline: CallPipeline,
  services: readonly DescService[],
): { requestGate: (context: HandlerContext) => Promise<void>; interceptor: Interceptor } {
  const methods = methodRefs(services);
  const refOf = (service: string, method: string): MethodRef =>
    methods.get(`${service}/${method}`) ?? { key: `${service}/${method}`, service, name: method, kind: "unary" };

  const requestGate = async (context: HandlerContext) => {
    const ref = refOf(context.service.typeName, context.method.name);
    const call = pipeline.begin(ref, context.requestHeader, context.signal, context.protocolName);
    context.values.set(callKey, call);
    try {
      await pipeline.authenticate(call);
    } catch (error) {
      throw pipeline.fail(call, error);
    }
  };

  const interceptor: Interceptor = (next) => async (request) => {
    const call = request.contextValues.get(callKey);
    if (call === undefined) throw new Error("connectRules: the request gate did not run");
    try {
      pipeline.authorize(call, request.stream ? undefined : request.message);
      const response = await pipeline.run(call, () => next(request));
      // On failure the id travels with the error's metadata instead.
      response.header.set(REQUEST_ID_HEADER, call.requestId);
      if (!response.stream) {
        pipeline.succeed(call);
        return response;
      }
      return { ...response, message: endWhenDone(pipeline, call, response.message) };
    } catch (error) {
      throw pipeline.fail(call, error);
    }
  };
  return { requestGate, interceptor };
}

async function* endWhenDone<T>(pipeline: CallPipeline, call: CallContext, messages: AsyncIterable<T>): AsyncIterable<T> {
  // Each step of a streamed response runs in the call's trace context too
  // (what `yield* messages` did, plus pipeline.run around each next()).
  const iterator = messages[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const step = await pipeline.run(call, () => iterator.next());
      if (step.done === true) break;
      yield step.value;
    }
    finished = true;
  } catch (error) {
    finished = true;
    throw pipeline.fail(call, error);
  } finally {
    // The consumer stopped early (the stream was cancelled): close the source, as yield* does.
    if (!finished) await iterator.return?.();
  }
  pipeline.succeed(call);
}
