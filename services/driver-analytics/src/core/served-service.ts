import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";

/**
 * ServedService is a service and its implementation, as every framework
 * adapter serves it: the handlers are written once (ServiceImpl's shape:
 * `(request, context)`, using only context.signal and the header objects).
 */
export interface ServedService {
  desc: DescService;
  impl: Partial<ServiceImpl<DescService>>;
}

export function servedService<S extends DescService>(desc: S, impl: ServiceImpl<S>): ServedService {
  return { desc, impl: impl as Partial<ServiceImpl<DescService>> };
}
