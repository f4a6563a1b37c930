// Original file: /work/main/proto/kage/v1/agent.proto

import type { Sample as _kage_v1_Sample, Sample__Output as _kage_v1_Sample__Output } from '../../kage/v1/Sample.js';

/**
 * Samples in seq order. Live traffic sends one sample per batch; replay sends several.
 */
export interface SampleBatch {
  samples?: _kage_v1_Sample[];
}

/**
 * Samples in seq order. Live traffic sends one sample per batch; replay sends several.
 */
export interface SampleBatch__Output {
  samples: _kage_v1_Sample__Output[];
}
