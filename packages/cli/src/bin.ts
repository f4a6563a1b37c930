#!/usr/bin/env node
/**
 * `kage`: parses flags, calls the packages, prints. The only place that turns errors into
 * messages and exit codes.
 */
import { readFileSync } from 'node:fs';
import { isJournalStream } from '@kage/common';
import { Command, CommanderError } from 'commander';
import { createEmulateCommand } from './commands/emulate-command.js';
import { createDemoCommand } from './commands/demo-command.js';
import { createBenchCommand } from './commands/bench-command.js';
import { createReportCommand } from './commands/report-command.js';
import { createAgentCommand } from './commands/agent-command.js';
import { createCoordinatorCommand } from './commands/coordinator-command.js';
import { createNodesCommand } from './commands/nodes-command.js';
import { createStatusCommand } from './commands/status-command.js';
import { createServiceCommand } from './commands/service-command.js';
import { createExoCommand } from './commands/exo-command.js';
import { createDeployCommand } from './commands/deploy-command.js';
import { createDoctorCommand } from './commands/doctor-command.js';
import { CliError, EXIT_USAGE, exitCodeForCode } from './errors.js';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function buildProgram(): Command {
  const program = new Command('kage')
    .description('Kage: an inference lab for a few Linux nodes running Ollama and EXO')
    .version(packageJson.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(createEmulateCommand(process.env));
  program.addCommand(createBenchCommand());
  program.addCommand(createReportCommand());
  program.addCommand(createDemoCommand());
  program.addCommand(createAgentCommand());
  program.addCommand(createCoordinatorCommand());
  program.addCommand(createStatusCommand());
  program.addCommand(createNodesCommand());
  program.addCommand(createServiceCommand());
  program.addCommand(createExoCommand());
  program.addCommand(createDeployCommand());
  program.addCommand(createDoctorCommand());
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/**
 * Writes a failure to stderr. Under systemd (stderr is the journal stream) each line starts with
 * `<3>`, so journald stores it at priority err and `journalctl -u kage-agent -p err` shows why a
 * unit failed to start (a bad config, exit 78); anywhere else the lines are plain.
 */
function writeFailure(text: string): void {
  const toJournal = isJournalStream(process.env['JOURNAL_STREAM'], 2);
  process.stderr.write(toJournal ? text.replace(/^(?=.)/gm, '<3>') : text);
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are not failures.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code === 'commander.help') return 0;
    return EXIT_USAGE;
  }
  if (err instanceof CliError) {
    writeFailure(`kage: ${err.message} [${err.code}]\n`);
    return err.exitCode;
  }
  // Coded errors from the packages (KAGE_ERR_*) carry a message written for people, and
  // sometimes a hint; anything else is unexpected but still gets one line, not a stack trace.
  const code = (err as { code?: unknown }).code;
  const hint = (err as { hint?: unknown }).hint;
  const message = err instanceof Error ? err.message : String(err);
  writeFailure(`kage: ${message}${typeof code === 'string' ? ` [${code}]` : ''}\n`);
  if (typeof hint === 'string' && hint.length > 0) writeFailure(`hint: ${hint}\n`);
  if (process.env['KAGE_DEBUG'] && err instanceof Error && err.stack) writeFailure(`${err.stack}\n`);
  return typeof code === 'string' ? exitCodeForCode(code) : 1;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
}
