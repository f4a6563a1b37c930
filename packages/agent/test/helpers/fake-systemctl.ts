/**
 * A fake `systemctl` for the systemd driver's tests: `node fake-systemctl.js --state=FILE ARGS…`.
 * Units live in the JSON state file, so separate invocations see each other's effects:
 *   { "units": { "ollama.service": { "ActiveState": "active", … } }, "calls": [], "fail": { "restart": "msg" } }
 * Supports `start|stop|restart UNIT` (recorded in `calls`; `fail[verb]` makes it exit 1) and
 * `show UNIT --property=A,B` (prints the requested properties as key=value lines, like systemd).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

interface Unit {
  ActiveState: string;
  SubState: string;
  MainPID: number;
  NRestarts: number;
  ExecMainStatus: number;
  ControlGroup: string;
}

interface State {
  units: Record<string, Unit>;
  calls: string[][];
  fail?: Record<string, string>;
  nextPid?: number;
}

const [stateArg, ...args] = process.argv.slice(2);
const statePath = (stateArg ?? '').replace(/^--state=/, '');
const state = JSON.parse(readFileSync(statePath, 'utf8')) as State;
const [verbArg, unitName] = args;
const verb = verbArg ?? '';

function save(): void {
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${statePath}.tmp`, statePath);
}

function newPid(): number {
  state.nextPid = (state.nextPid ?? 4000) + 1;
  return state.nextPid;
}

const unit = unitName === undefined ? undefined : state.units[unitName];

switch (verb) {
  case 'show': {
    const wanted = (args.find((a) => a.startsWith('--property=')) ?? '--property=')
      .slice('--property='.length)
      .split(',');
    const values: Record<string, string | number> = unit
      ? { LoadState: 'loaded', ...unit }
      : {
          LoadState: 'not-found',
          ActiveState: 'inactive',
          SubState: 'dead',
          MainPID: 0,
          NRestarts: 0,
          ExecMainStatus: 0,
          ControlGroup: '',
        };
    for (const key of wanted) if (key in values) process.stdout.write(`${key}=${values[key]}\n`);
    break;
  }
  case 'start':
  case 'stop':
  case 'restart': {
    state.calls.push([verb, unitName ?? '']);
    save();
    const failure = state.fail?.[verb];
    if (failure !== undefined) {
      process.stderr.write(`Failed to ${verb} ${unitName}: ${failure}\nSee system logs for details.\n`);
      process.exit(1);
    }
    if (unit === undefined) {
      process.stderr.write(`Failed to ${verb} ${unitName}: Unit ${unitName} not found.\n`);
      process.exit(5);
    }
    if (verb === 'stop') Object.assign(unit, { ActiveState: 'inactive', SubState: 'dead', MainPID: 0 });
    else if (verb === 'restart' || unit.ActiveState !== 'active')
      Object.assign(unit, { ActiveState: 'active', SubState: 'running', MainPID: newPid(), ExecMainStatus: 0 });
    save();
    break;
  }
  default:
    process.stderr.write(`fake systemctl: unsupported ${JSON.stringify(args)}\n`);
    process.exit(1);
}
