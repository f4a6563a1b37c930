// Original file: /work/main/proto/kage/v1/agent.proto

/**
 * One hwmon temperature channel.
 */
export interface TempReading {
  /**
   * hwmon `name`: "k10temp", "amdgpu", "coretemp", "nvme"...
   */
  chip?: string;
  /**
   * `tempN_label` when the driver has one, else "tempN".
   */
  label?: string;
  /**
   * Degrees Celsius.
   */
  celsius?: number | string;
  _celsius?: 'celsius';
}

/**
 * One hwmon temperature channel.
 */
export interface TempReading__Output {
  /**
   * hwmon `name`: "k10temp", "amdgpu", "coretemp", "nvme"...
   */
  chip: string;
  /**
   * `tempN_label` when the driver has one, else "tempN".
   */
  label: string;
  /**
   * Degrees Celsius.
   */
  celsius?: number;
  _celsius?: 'celsius';
}
