/**
 * JSON Schema (TypeBox) of the deploy inventory (`deploy/inventory.example.yaml`, docs/install.md):
 * the lab's nodes, which one runs the coordinator, and how EXO is installed and peered. Every
 * object is closed: an unknown key is an error, never silently ignored. Rules that span keys
 * (unique names and addresses, the coordinator naming a node) are in `inventory.ts`.
 */
import { ERROR_MESSAGE } from '@kage/common';
import { Type, type Static } from '@sinclair/typebox';

export const INVENTORY_DEFAULTS = Object.freeze({
  grpc_port: 50551,
  http_port: 7080,
  exo_version: 'v1.0.71',
  exo_extra: 'cpu',
  exo_api_port: 52415,
  exo_libp2p_port: 30000,
});

const Str = (message: string) => Type.String({ minLength: 1, [ERROR_MESSAGE]: message });
const Port = Type.Integer({ minimum: 1, maximum: 65535, [ERROR_MESSAGE]: 'must be a TCP port, 1 to 65535' });
/** Node names become file names, unit arguments and token keys: a conservative alphabet. */
const NodeName = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
  [ERROR_MESSAGE]: 'must be 1-63 lowercase letters, digits or "-", starting with a letter or digit',
});

export const InventorySchema = Type.Object(
  {
    coordinator: Type.Object(
      {
        node: NodeName,
        grpc_port: Type.Optional(Port),
        http_port: Type.Optional(Port),
        api_token_file: Type.Optional(Str('must be a non-empty path (relative paths are relative to this file)')),
      },
      { additionalProperties: false },
    ),
    exo: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(
            Type.String({ pattern: '^v1\\.\\d+\\.\\d+$', [ERROR_MESSAGE]: 'must be an EXO 1.x git tag, e.g. v1.0.71' }),
          ),
          extra: Type.Optional(
            Type.Union([Type.Literal('cpu'), Type.Literal('cuda12'), Type.Literal('cuda13')], {
              [ERROR_MESSAGE]: 'must be cpu, cuda12 or cuda13 (the MLX extras of EXO v1.0.71)',
            }),
          ),
          api_port: Type.Optional(Port),
          libp2p_port: Type.Optional(Port),
        },
        { additionalProperties: false },
      ),
    ),
    nodes: Type.Array(
      Type.Object(
        {
          name: NodeName,
          hostname: Str('must be the host name EXO reports (friendlyName), e.g. ndnlinuxsrv1'),
          /** Checked as an IPv4 address by the loader. */
          address: Str('must be the IPv4 address the other nodes reach this one at, e.g. 100.77.248.9'),
          token_file: Str('must be a non-empty path (relative paths are relative to this file)'),
          /** False: no EXO on this node (an Ollama-only node). */
          exo: Type.Optional(Type.Boolean({ [ERROR_MESSAGE]: 'must be true or false' })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, [ERROR_MESSAGE]: 'must list at least one node' },
    ),
  },
  { additionalProperties: false },
);

export type InventoryFile = Static<typeof InventorySchema>;
