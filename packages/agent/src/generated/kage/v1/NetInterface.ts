// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One network interface from /proc/net/dev.
 */
export interface NetInterface {
  /**
   * Interface name, e.g. "enp1s0", "tailscale0".
   */
  iface?: string;
  /**
   * Kernel counters since the interface came up.
   */
  rx_bytes?: number | string | Long;
  tx_bytes?: number | string | Long;
  /**
   * Rates in bits per second over the last interval; unset on the first tick or a counter reset.
   */
  rx_bps?: number | string;
  tx_bps?: number | string;
  _rx_bytes?: 'rx_bytes';
  _tx_bytes?: 'tx_bytes';
  _rx_bps?: 'rx_bps';
  _tx_bps?: 'tx_bps';
}

/**
 * One network interface from /proc/net/dev.
 */
export interface NetInterface__Output {
  /**
   * Interface name, e.g. "enp1s0", "tailscale0".
   */
  iface: string;
  /**
   * Kernel counters since the interface came up.
   */
  rx_bytes?: number;
  tx_bytes?: number;
  /**
   * Rates in bits per second over the last interval; unset on the first tick or a counter reset.
   */
  rx_bps?: number;
  tx_bps?: number;
  _rx_bytes?: 'rx_bytes';
  _tx_bytes?: 'tx_bytes';
  _rx_bps?: 'rx_bps';
  _tx_bps?: 'tx_bps';
}
