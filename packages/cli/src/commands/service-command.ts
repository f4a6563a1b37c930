/**
 * `kage service NODE NAME start|stop|restart`: asks a node's agent, through the coordinator, to act
 * on one of its configured services, and prints the agent's answer. Exit 0 when the agent did it;
 * 1 when it refused (its code and message are printed); 69 when the node is offline or the answer
 * did not come in time; 65 for a node the coordinator has never seen.
 */
import { Argument, Command } from 'commander';
import {
  CoordinatorClient,
  readApiToken,
  resolveCoordinatorUrl,
  type ServiceAction,
  type ServiceActionResult,
} from '../coordinator-client.js';
import { parseNonNegativeNumber } from '../option-parsers.js';
import { serviceLine } from './status-command.js';

/**
 * Longer than the coordinator's own wait for the agent (60 s by default), so its
 * `KAGE_ERR_COMMAND_TIMEOUT` answer, which names the node, arrives before this bound ends.
 */
const DEFAULT_SERVICE_TIMEOUT_S = 75;

function report(node: string, name: string, action: ServiceAction, result: ServiceActionResult): void {
  if (result.ok) {
    process.stdout.write(
      result.service === null ? `${node} ${name}: ${action} done\n` : `${node} ${serviceLine(result.service)}\n`,
    );
    return;
  }
  const code = result.error?.code ?? 'KAGE_ERR_COMMAND_FAILED';
  const message = result.error?.message || `the agent refused to ${action} ${name}`;
  process.stderr.write(`kage: ${node} refused to ${action} ${name}: ${message} [${code}]\n`);
  if (result.service !== null) process.stderr.write(`now: ${node} ${serviceLine(result.service)}\n`);
  // The agent's code is its own (any KAGE_ERR_AGENT_*): a refusal is exit 1 whatever it says.
  process.exitCode = 1;
}

export function createServiceCommand(): Command {
  return new Command('service')
    .description("start, stop or restart one of a node's configured services, through the coordinator")
    .argument('<node>', 'node id (see kage nodes)')
    .argument('<name>', 'service name from the agent config (e.g. ollama, exo)')
    .addArgument(new Argument('<action>', 'what to do').choices(['start', 'stop', 'restart']))
    .option('--coordinator <url>', 'coordinator REST API (default: $KAGE_COORDINATOR or http://127.0.0.1:7080)')
    .option('--token-file <file>', 'file holding the coordinator API token (default: $KAGE_API_TOKEN)')
    .option('--timeout <seconds>', 'how long to wait for the answer', parseNonNegativeNumber, DEFAULT_SERVICE_TIMEOUT_S)
    .action(
      async (
        node: string,
        name: string,
        action: ServiceAction,
        flags: { coordinator?: string; tokenFile?: string; timeout: number },
      ) => {
        const url = resolveCoordinatorUrl(flags.coordinator);
        // Before any request: a missing token is a usage error, whatever the coordinator says.
        const token = await readApiToken(flags.tokenFile);
        const client = new CoordinatorClient({ url, token });
        const result = await client.serviceAction(node, name, action, {
          timeoutMs: Math.max(1, Math.round(flags.timeout * 1000)),
        });
        report(node, name, action, result);
      },
    );
}
