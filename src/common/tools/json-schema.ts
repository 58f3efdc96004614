import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { JSONSchema7 } from '@ai-sdk/provider';

/** A tool's input schema larger than this is refused: it would also crowd the model's context. */
export const MAX_SCHEMA_BYTES = 65_536;

const options = { strict: false, allErrors: false, validateFormats: false } as const;

/**
 * A fresh instance per schema: an instance keeps every schema it compiled, and tools are listed
 * again on each reconnection; two servers may also reuse the same $id.
 */
function validatorFor(schema: Record<string, unknown>): Ajv {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (dialect.includes('2020-12')) return new Ajv2020(options);
  if (dialect.includes('2019-09')) return new Ajv2019(options);
  return new Ajv(options);
}

/** Lists what does not match, or returns undefined when the value matches. */
export type SchemaCheck = (value: unknown) => string | undefined;

/** Compiles any JSON Schema (a tool's input, a webhook's answer); throws when it is too large or not compilable. */
export function compileJsonSchema(schema: Record<string, unknown>): SchemaCheck {
  if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) throw new Error(`the schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  const { $schema: _dialect, ...rest } = schema;
  const validate: ValidateFunction = validatorFor(schema).compile(rest);
  return (value) => {
    if (validate(value)) return undefined;
    return (validate.errors ?? []).map((error) => `${error.instancePath || 'input'}: ${error.message ?? 'is invalid'}`).join('; ');
  };
}

export interface CompiledSchema {
  /** The schema offered to the model: always an object schema, without the dialect marker. */
  jsonSchema: JSONSchema7;
  /** Throws a readable message for the model when the input does not match. */
  check(toolName: string, input: unknown): void;
}

/** Compiles a tool's input schema (an MCP tool's, a workflow's); throws when it is too large, not an object schema or not compilable. */
export function compileInputSchema(schema: unknown): CompiledSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('the input schema is not an object');
  const record = schema as Record<string, unknown>;
  if (record.type !== 'object') throw new Error('the input schema does not describe an object');
  if (JSON.stringify(record).length > MAX_SCHEMA_BYTES) throw new Error(`the input schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  const issues = compileJsonSchema(record);
  const { $schema: _dialect, ...offered } = record;
  return {
    jsonSchema: offered as JSONSchema7,
    check(toolName, input) {
      const found = issues(input);
      if (found !== undefined) throw new Error(`Invalid arguments for ${toolName}: ${found}`);
    },
  };
}
