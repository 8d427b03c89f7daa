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

/** Runs `deno run -A cli.ts …` as a real process in `cwd` (the repository by default). */
export async function runCliProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli.ts", ...args],
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
