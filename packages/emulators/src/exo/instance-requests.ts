/**
 * Bodies of `POST /instance` (`CreateInstanceParams`), `POST /download/start` (`StartDownloadParams`)
 * and `POST /download/cancel` (`CancelDownloadParams`) of EXO v1.0.71 (`src/exo/api/types/api.py`),
 * validated as pydantic does it for EXO's `FrozenModel`s: strict types (no "5" for 5), unknown keys
 * rejected (`extra_forbidden`), camelCase aliases or snake_case names accepted, error locations by
 * alias. Tagged unions (`{"PipelineShardMetadata": {…}}`) are checked against the tag given; an input
 * with no known tag is reported against every member of the union, each under its class name.
 */
import type { InstanceJson, ShardMetadataJson } from './wire-types.js';
import type { PydanticError } from './validation.js';

type Loc = (string | number)[];
type Parsed<T> = { ok: true; value: T } | { ok: false; errors: PydanticError[] };

type Kind =
  | 'str'
  | 'int'
  | 'posint'
  | 'nonneg'
  | 'bool'
  | 'float?'
  | 'posint?'
  | 'memory'
  | 'strlist'
  | 'any'
  | { map: Kind }
  | { list: Kind }
  | { model: string; fields: readonly Field[]; after?: (v: Record<string, unknown>) => string | undefined }
  | { union: readonly string[]; members: Readonly<Record<string, readonly Field[]>> };

interface Field {
  /** camelCase alias (what EXO serialises). */
  readonly name: string;
  readonly kind: Kind;
  readonly required: boolean;
}

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MEMORY: readonly Field[] = [{ name: 'inBytes', kind: 'int', required: false }];

const MODEL_CARD: readonly Field[] = [
  { name: 'modelId', kind: 'str', required: true },
  { name: 'storageSize', kind: 'memory', required: true },
  { name: 'nLayers', kind: 'posint', required: true },
  { name: 'hiddenSize', kind: 'posint', required: true },
  { name: 'supportsTensor', kind: 'bool', required: true },
  { name: 'numKeyValueHeads', kind: 'posint?', required: false },
  { name: 'tasks', kind: 'strlist', required: true },
  { name: 'components', kind: 'any', required: false },
  { name: 'family', kind: 'str', required: false },
  { name: 'quantization', kind: 'str', required: false },
  { name: 'baseModel', kind: 'str', required: false },
  { name: 'capabilities', kind: 'strlist', required: false },
  { name: 'contextLength', kind: 'int', required: false },
  { name: 'usesCfg', kind: 'bool', required: false },
  { name: 'trustRemoteCode', kind: 'bool', required: false },
  { name: 'isCustom', kind: 'bool', required: false },
  { name: 'vision', kind: 'any', required: false },
  { name: 'samplingDefaults', kind: 'any', required: false },
];

const SHARD_BASE: readonly Field[] = [
  { name: 'modelCard', kind: { model: 'ModelCard', fields: MODEL_CARD }, required: true },
  { name: 'deviceRank', kind: 'int', required: true },
  { name: 'worldSize', kind: 'int', required: true },
  { name: 'immediateException', kind: 'bool', required: false },
  { name: 'shouldTimeout', kind: 'float?', required: false },
  { name: 'startLayer', kind: 'nonneg', required: true },
  { name: 'endLayer', kind: 'nonneg', required: true },
  { name: 'nLayers', kind: 'nonneg', required: true },
];

const SHARD: Kind = {
  union: ['PipelineShardMetadata', 'CfgShardMetadata', 'TensorShardMetadata'],
  members: {
    PipelineShardMetadata: SHARD_BASE,
    CfgShardMetadata: [
      ...SHARD_BASE,
      { name: 'cfgRank', kind: 'int', required: true },
      { name: 'cfgWorldSize', kind: 'int', required: false },
      { name: 'pipelineRank', kind: 'int', required: true },
      { name: 'pipelineWorldSize', kind: 'int', required: true },
    ],
    TensorShardMetadata: SHARD_BASE,
  },
};

const SHARD_ASSIGNMENTS: Kind = {
  model: 'ShardAssignments',
  fields: [
    { name: 'modelId', kind: 'str', required: true },
    { name: 'runnerToShard', kind: { map: SHARD }, required: true },
    { name: 'nodeToRunner', kind: { map: 'str' }, required: true },
  ],
  // ShardAssignments.validate_runners_exist
  after: (v) => {
    const runnerToShard = (v.runnerToShard ?? v.runner_to_shard) as Record<string, unknown>;
    const nodeToRunner = (v.nodeToRunner ?? v.node_to_runner) as Record<string, string>;
    const missing = Object.values(nodeToRunner).find((r) => !Object.hasOwn(runnerToShard, r));
    return missing === undefined ? undefined : `Runner ${missing} in node_to_runner does not exist in runner_to_shard`;
  },
};

const INSTANCE_BASE: readonly Field[] = [
  { name: 'instanceId', kind: 'str', required: true },
  { name: 'shardAssignments', kind: SHARD_ASSIGNMENTS, required: true },
];

const HOST: Kind = {
  model: 'Host',
  fields: [
    { name: 'ip', kind: 'str', required: true },
    { name: 'port', kind: 'int', required: true },
  ],
};

const INSTANCE: Kind = {
  union: ['MlxRingInstance', 'MlxJacclInstance'],
  members: {
    MlxRingInstance: [
      ...INSTANCE_BASE,
      { name: 'hostsByNode', kind: { map: { list: HOST } }, required: true },
      { name: 'ephemeralPort', kind: 'int', required: true },
    ],
    MlxJacclInstance: [
      ...INSTANCE_BASE,
      { name: 'jacclDevices', kind: { list: 'any' }, required: true },
      { name: 'jacclCoordinators', kind: { map: 'str' }, required: true },
    ],
  },
};

function check(value: unknown, kind: Kind, loc: Loc, errors: PydanticError[]): void {
  const fail = (type: string, msg: string, ctx?: Record<string, unknown>): void => {
    errors.push({ type, loc, msg, input: value, ...(ctx && { ctx }) });
  };
  const isInt = typeof value === 'number' && Number.isInteger(value);
  if (typeof kind === 'string') {
    switch (kind) {
      case 'any':
        return;
      case 'str':
        if (typeof value !== 'string') fail('string_type', 'Input should be a valid string');
        return;
      case 'bool':
        if (typeof value !== 'boolean') fail('bool_type', 'Input should be a valid boolean');
        return;
      case 'float?':
        if (value !== null && typeof value !== 'number') fail('float_type', 'Input should be a valid number');
        return;
      case 'int':
      case 'posint':
      case 'posint?':
      case 'nonneg':
        if (kind === 'posint?' && value === null) return;
        if (!isInt) return fail('int_type', 'Input should be a valid integer');
        if ((kind === 'posint' || kind === 'posint?') && value <= 0) {
          fail('greater_than', 'Input should be greater than 0', { gt: 0 });
        }
        if (kind === 'nonneg' && value < 0) {
          fail('greater_than_equal', 'Input should be greater than or equal to 0', { ge: 0 });
        }
        return;
      case 'memory':
        return check(value, { model: 'Memory', fields: MEMORY }, loc, errors);
      case 'strlist':
        return check(value, { list: 'str' }, loc, errors);
    }
  }
  if ('map' in kind) {
    if (!isObject(value)) return fail('dict_type', 'Input should be a valid dictionary');
    for (const [k, v] of Object.entries(value)) check(v, kind.map, [...loc, k], errors);
    return;
  }
  if ('list' in kind) {
    if (!Array.isArray(value)) return fail('list_type', 'Input should be a valid list');
    value.forEach((v, i) => check(v, kind.list, [...loc, i], errors));
    return;
  }
  if ('model' in kind) {
    if (!isObject(value)) {
      return fail('model_type', `Input should be a valid dictionary or instance of ${kind.model}`, {
        class_name: kind.model,
      });
    }
    const before = errors.length;
    checkFields(value, kind.fields, loc, errors);
    const problem = errors.length === before ? kind.after?.(value) : undefined;
    if (problem)
      errors.push({ type: 'value_error', loc, msg: `Value error, ${problem}`, input: value, ctx: { error: problem } });
    return;
  }
  // A TaggedModel union: `{"Tag": {…}}` selects the member; anything else is tried against each.
  const tag = isObject(value) && Object.keys(value).length === 1 ? Object.keys(value)[0]! : undefined;
  if (tag !== undefined && kind.union.includes(tag)) {
    return check(
      (value as Record<string, unknown>)[tag],
      { model: tag, fields: kind.members[tag]! },
      [...loc, tag],
      errors,
    );
  }
  for (const member of kind.union)
    check(value, { model: member, fields: kind.members[member]! }, [...loc, member], errors);
}

function checkFields(obj: Record<string, unknown>, fields: readonly Field[], loc: Loc, errors: PydanticError[]): void {
  const known = new Set<string>();
  for (const field of fields) {
    const key = Object.hasOwn(obj, field.name) ? field.name : snake(field.name);
    known.add(field.name).add(snake(field.name));
    if (!Object.hasOwn(obj, key)) {
      if (field.required)
        errors.push({ type: 'missing', loc: [...loc, field.name], msg: 'Field required', input: obj });
      continue;
    }
    check(obj[key], field.kind, [...loc, key], errors);
  }
  for (const [k, v] of Object.entries(obj)) {
    if (!known.has(k)) {
      errors.push({ type: 'extra_forbidden', loc: [...loc, k], msg: 'Extra inputs are not permitted', input: v });
    }
  }
}

/** Reads a camelCase field that may also come in snake_case. */
function field<T>(obj: Record<string, unknown>, name: string): T {
  return (Object.hasOwn(obj, name) ? obj[name] : obj[snake(name)]) as T;
}

/** Recursively renames snake_case keys of a validated EXO object to their camelCase aliases. */
function camelKeys(value: unknown, isMap = false): unknown {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v));
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Map keys (node ids, runner ids) are data, not field names.
    const key = isMap ? k : k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const childIsMap = ['runnerToShard', 'nodeToRunner', 'hostsByNode', 'jacclCoordinators'].includes(key);
    out[key] = camelKeys(v, childIsMap);
  }
  return out;
}

/** `CreateInstanceParams` (a plain BaseModel around the strict `Instance` union). */
export function parseCreateInstance(
  body: Record<string, unknown>,
): Parsed<InstanceJson | { MlxJacclInstance: unknown }> {
  const errors: PydanticError[] = [];
  if (!Object.hasOwn(body, 'instance')) {
    return { ok: false, errors: [{ type: 'missing', loc: ['body', 'instance'], msg: 'Field required', input: body }] };
  }
  check(body.instance, INSTANCE, ['body', 'instance'], errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: camelKeys(body.instance) as InstanceJson };
}

export interface StartDownloadParams {
  readonly targetNodeId: string;
  readonly shard: ShardMetadataJson;
}

/** `StartDownloadParams` (FrozenModel): `targetNodeId` and `shardMetadata`. */
export function parseStartDownload(body: Record<string, unknown>): Parsed<StartDownloadParams> {
  const errors: PydanticError[] = [];
  checkFields(
    body,
    [
      { name: 'targetNodeId', kind: 'str', required: true },
      { name: 'shardMetadata', kind: SHARD, required: true },
    ],
    ['body'],
    errors,
  );
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      targetNodeId: field<string>(body, 'targetNodeId'),
      shard: camelKeys(field(body, 'shardMetadata')) as ShardMetadataJson,
    },
  };
}

export interface CancelDownloadParams {
  readonly targetNodeId: string;
  readonly modelId: string;
}

/** `CancelDownloadParams` (FrozenModel): `targetNodeId` and `modelId`. */
export function parseCancelDownload(body: Record<string, unknown>): Parsed<CancelDownloadParams> {
  const errors: PydanticError[] = [];
  checkFields(
    body,
    [
      { name: 'targetNodeId', kind: 'str', required: true },
      { name: 'modelId', kind: 'str', required: true },
    ],
    ['body'],
    errors,
  );
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { targetNodeId: field(body, 'targetNodeId'), modelId: field(body, 'modelId') } };
}
