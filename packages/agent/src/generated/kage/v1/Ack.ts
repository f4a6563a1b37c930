// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The coordinator holds every record of this (node_id, boot_id) with seq <= `seq`.
 */
export interface Ack {
  seq?: number | string | Long;
}

/**
 * The coordinator holds every record of this (node_id, boot_id) with seq <= `seq`.
 */
export interface Ack__Output {
  seq: number;
}
