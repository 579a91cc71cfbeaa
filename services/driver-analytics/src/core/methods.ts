import type { DescService } from "@bufbuild/protobuf";
import type { MethodRef } from "./call-pipeline.js";

/** methodRefs names every method of the services once, keyed "<service>/<method>". */
export function methodRefs(services: readonly DescService[]): ReadonlyMap<string, MethodRef> {
  const refs = new Map<string, MethodRef>();
  for (const service of services) {
    for (const method of service.methods) {
      const key = `${service.typeName}/${method.name}`;
      refs.set(key, { key, service: service.typeName, name: method.name, kind: method.methodKind });
    }
  }
  return refs;
}
