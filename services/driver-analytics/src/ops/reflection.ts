import {
  create,
  toBinary,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionResponseSchema,
  ServerReflectionResponseV1alphaSchema,
  ServerReflectionV1alpha,
  type ServerReflectionRequest,
} from "@driver-analytics/proto";
import { servedService, type ServedService } from "../core/served-service.js";

// gRPC status codes carried inside ErrorResponse (the stream itself stays OK).
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

type ResponseInit = Parameters<typeof create<typeof ServerReflectionResponseSchema>>[1];

/**
 * DescriptorIndex answers reflection's questions from the generated file
 * descriptors: which file has this name, declares this symbol, or extends
 * this message with this field number.
 */
class DescriptorIndex {
  readonly services: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions = new Map<string, DescExtension[]>();
  readonly #bytes = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.services = services.map((service) => service.typeName);
    for (const service of services) this.#addFile(service.file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol);
  }

  extensionsOf(typeName: string): readonly DescExtension[] | undefined {
    if (!this.#symbols.has(typeName)) return undefined;
    return this.#extensions.get(typeName) ?? [];
  }

  /** serialized is the file's FileDescriptorProto in binary, computed once. */
  serialized(file: DescFile): Uint8Array {
    let bytes = this.#bytes.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#bytes.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    // file.name lacks the ".proto" suffix; reflection speaks full file names.
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.#addFile(dependency);
    for (const message of file.messages) this.#addMessage(message);
    for (const enumeration of file.enums) this.#symbols.set(enumeration.typeName, file);
    for (const extension of file.extensions) this.#addExtension(extension);
    for (const service of file.services) {
      this.#symbols.set(service.typeName, file);
      for (const method of service.methods) this.#symbols.set(`${service.typeName}.${method.name}`, file);
    }
  }

  #addMessage(message: DescMessage): void {
    this.#symbols.set(message.typeName, message.file);
    for (const field of message.fields) this.#symbols.set(`${message.typeName}.${field.name}`, message.file);
    for (const oneof of message.oneofs) this.#symbols.set(`${message.typeName}.${oneof.name}`, message.file);
    for (const nested of message.nestedMessages) this.#addMessage(nested);
    for (const enumeration of message.nestedEnums) this.#symbols.set(enumeration.typeName, message.file);
    for (const extension of message.nestedExtensions) this.#addExtension(extension);
  }

  #addExtension(extension: DescExtension): void {
    this.#symbols.set(extension.typeName, extension.file);
    const list = this.#extensions.get(extension.extendee.typeName) ?? [];
    list.push(extension);
    this.#extensions.set(extension.extendee.typeName, list);
  }
}

/**
 * answer handles one reflection request. `sent` holds the files this stream
 * has already received: like grpc-go, the requested file is always sent, its
 * dependencies only once per stream.
 */
function answer(index: DescriptorIndex, request: ServerReflectionRequest, sent: Set<DescFile>): ResponseInit {
  const base = { validHost: request.host, originalRequest: request };
  const notFound = (what: string): ResponseInit => ({
    ...base,
    messageResponse: { case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } },
  });
  const files = (file: DescFile): ResponseInit => {
    const out = [index.serialized(file)];
    sent.add(file);
    const visit = (dependency: DescFile) => {
      if (sent.has(dependency)) return;
      sent.add(dependency);
      out.push(index.serialized(dependency));
      dependency.dependencies.forEach(visit);
    };
    file.dependencies.forEach(visit);
    return { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } } };
  };

  const { messageRequest } = request;
  switch (messageRequest.case) {
    case "listServices":
      return {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: index.services.map((name) => ({ name })) },
        },
      };
    case "fileByFilename": {
      const file = index.fileByName(messageRequest.value);
      return file === undefined ? notFound(`file ${JSON.stringify(messageRequest.value)}`) : files(file);
    }
    case "fileContainingSymbol": {
      const file = index.fileContainingSymbol(messageRequest.value);
      return file === undefined ? notFound(`symbol ${JSON.stringify(messageRequest.value)}`) : files(file);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = messageRequest.value;
      const extension = index.extensionsOf(containingType)?.find((e) => e.number === extensionNumber);
      return extension === undefined
        ? notFound(`extension ${extensionNumber} of ${JSON.stringify(containingType)}`)
        : files(extension.file);
    }
    case "allExtensionNumbersOfType": {
      const extensions = index.extensionsOf(messageRequest.value);
      if (extensions === undefined) return notFound(`type ${JSON.stringify(messageRequest.value)}`);
      return {
        ...base,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: messageRequest.value, extensionNumber: extensions.map((e) => e.number) },
        },
      };
    }
    case undefined:
      return {
        ...base,
        messageResponse: {
          case: "errorResponse",
          value: { errorCode: INVALID_ARGUMENT, errorMessage: "no message_request set" },
        },
      };
  }
}

/**
 * reflectionServices serve gRPC server reflection, v1 and v1alpha, for the
 * given services (the reflection services themselves are added), from the
 * descriptors protobuf-es generated: grpcurl, buf curl --reflect, ghz and
 * Postman then work with no .proto files at hand.
 */
export function reflectionServices(services: readonly DescService[]): ServedService[] {
  const index = new DescriptorIndex([...services, ServerReflection, ServerReflectionV1alpha]);
  const v1: ServiceImpl<typeof ServerReflection> = {
    async *serverReflectionInfo(requests) {
      const sent = new Set<DescFile>();
      for await (const request of requests) {
        yield create(ServerReflectionResponseSchema, answer(index, request, sent));
      }
    },
  };
  // v1alpha is the same protocol, field for field, under another package.
  const v1alpha: ServiceImpl<typeof ServerReflectionV1alpha> = {
    async *serverReflectionInfo(requests) {
      const sent = new Set<DescFile>();
      for await (const request of requests) {
        const init = answer(index, request as unknown as ServerReflectionRequest, sent);
        yield create(ServerReflectionResponseV1alphaSchema, init as Parameters<
          typeof create<typeof ServerReflectionResponseV1alphaSchema>
        >[1]);
      }
    },
  };
  return [servedService(ServerReflection, v1), servedService(ServerReflectionV1alpha, v1alpha)];
}
