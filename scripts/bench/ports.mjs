// A free loopback port, for a process that must be told its port before it starts (nginx,
// node_exporter, the gateway's listen address).
import { createServer } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
