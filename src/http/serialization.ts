import { SerializerSelector, type SerializerCompiler, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

/**
 * Fastify's own response serializers (fast-json-stringify), each compiled when its route first
 * answers with that status rather than all at start-up, where they took a tenth of a restart. The
 * output is the same; a process serves some routes only.
 */
export function serializersCompiledOnFirstUse(): SerializerFactory {
  const build = SerializerSelector();
  return (externalSchemas, options) => {
    const compile: SerializerCompiler = build(externalSchemas, options);
    return (route) => {
      let serialize: ((doc: unknown) => string) | undefined;
      return (doc) => (serialize ??= compile(route))(doc);
    };
  };
}
