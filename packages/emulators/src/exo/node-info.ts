/**
 * Per-node facts a Linux EXO v1.0.71 node reports: identity (`system_info.py`: on Linux the model and
 * chip are unknown, the OS version is `platform.system()`, the friendly name is the hostname), its
 * network interfaces, its disk, and the "nonsense multiaddr" `/ip4/<ip>/tcp/<api port>` that
 * `worker/main.py` puts on topology edges after pinging a peer's `/node_id`.
 */
import type { MemoryJson, MultiaddrJson, NetworkInterfaceJson, NodeIdentityJson } from './wire-types.js';
import { memoryJson } from './wire-types.js';

/**
 * Disk figures are placeholders (the hardware profiles carry no disk size): a 1 TB drive with 600 GB
 * free. Nothing in placement or timing reads them.
 */
const DISK_TOTAL_BYTES = 1_000_000_000_000;
const DISK_AVAILABLE_BYTES = 600_000_000_000;

export function multiaddrJson(host: string, port: number): MultiaddrJson {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return { address: `/ip4/${host}/tcp/${port}`, address_type: 'ip4', ip_address: host, port };
  }
  if (host.includes(':')) {
    return { address: `/ip6/${host}/tcp/${port}`, address_type: 'ip6', ip_address: host, port };
  }
  return { address: `/dns/${host}/tcp/${port}`, address_type: 'dns', ip_address: host, port };
}

export function nodeStaticJson(
  friendlyName: string,
  host: string,
): {
  identity: NodeIdentityJson;
  disk: { total: MemoryJson; available: MemoryJson };
  network: { interfaces: NetworkInterfaceJson[] };
} {
  const interfaces: NetworkInterfaceJson[] = [{ name: 'lo', ipAddress: '127.0.0.1', interfaceType: 'unknown' }];
  if (host !== '127.0.0.1') interfaces.push({ name: 'eth0', ipAddress: host, interfaceType: 'unknown' });
  return {
    identity: {
      modelId: 'Unknown Model',
      chipId: 'Unknown Chip',
      friendlyName,
      osVersion: 'Linux',
      osBuildVersion: 'Unknown',
    },
    disk: { total: memoryJson(DISK_TOTAL_BYTES), available: memoryJson(DISK_AVAILABLE_BYTES) },
    network: { interfaces },
  };
}
