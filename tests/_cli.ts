/** Helpers to run the CLI in-process and as a real process. */
import { main } from "../src/cli/main.ts";
import { fileURLToPath } from "node:url";

/** What a CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rillflow …` in-process with captured output and an optional environment. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    env: (name) => env[name],
  });
  return { code, stdout, stderr };
}

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Runs `deno <args>` as a real process in `cwd` (the repository by default). */
export async function runDeno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `deno run -A cli.ts …` as a real process in `cwd` (the repository by default). */
export function runCliProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  return runDeno(["run", "-A", "--quiet", "cli.ts", ...args], options);
}

/** Runs an example script and asserts it exits 0 and prints every expected line. */
export async function assertExamplePrints(
  script: string,
  env: Record<string, string>,
  lines: readonly string[],
): Promise<string> {
  const run = await runDeno(["run", "-A", script], { env });
  if (run.code !== 0) throw new Error(`${script} exited ${run.code}: ${run.stderr}`);
  for (const line of lines) {
    if (!run.stdout.includes(line)) {
      throw new Error(`${script} did not print ${line} in:\n${run.stdout}`);
    }
  }
  return run.stdout;
}
