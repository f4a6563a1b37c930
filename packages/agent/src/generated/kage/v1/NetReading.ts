// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  NetInterface as _kage_v1_NetInterface,
  NetInterface__Output as _kage_v1_NetInterface__Output,
} from '../../kage/v1/NetInterface.js';

/**
 * The network interfaces of one sample.
 */
export interface NetReading {
  interfaces?: _kage_v1_NetInterface[];
}

/**
 * The network interfaces of one sample.
 */
export interface NetReading__Output {
  interfaces: _kage_v1_NetInterface__Output[];
}
