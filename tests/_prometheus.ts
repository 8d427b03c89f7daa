/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4),
 * for tests: it rejects anything a scraper could misread.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function fail(line: number, message: string): never {
  throw new SyntaxError(`Prometheus text, line ${line}: ${message}`);
}

function parseValue(text: string, line: number): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(line, `bad value "${text}"`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `i`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (text[i] !== "}") {
    const eq = text.indexOf("=", i);
    if (eq < 0) fail(line, "label without =");
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) fail(line, `bad label name "${name}"`);
    if (name in labels) fail(line, `duplicate label "${name}"`);
    if (text[eq + 1] !== '"') fail(line, "label value must be quoted");
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      const char = text[j];
      if (char === undefined) fail(line, "unterminated label value");
      if (char === '"') break;
      if (char === "\\") {
        const next = text[++j];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else fail(line, `bad escape "\\${next}"`);
      } else value += char;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(line, `expected , or } after label "${name}"`);
  }
  return [labels, i + 1];
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ["histogram", "summary"].includes(types.get(base) ?? "")) {
      return base;
    }
  }
  return undefined;
}

/**
 * Parses an exposition and checks it: names, escapes, declared types,
 * cumulative histogram buckets ending with `+Inf` equal to `_count`.
 *
 * @param text The body of `/metrics`.
 * @returns The samples.
 * @throws {SyntaxError} At the first violation.
 */
export function parsePrometheusText(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!match) return; // a plain comment
      const [, kind, name, rest] = match;
      if (!METRIC.test(name!)) fail(line, `bad metric name "${name}"`);
      if (kind === "TYPE") {
        if (!TYPES.has(rest!)) fail(line, `bad type "${rest}"`);
        if (types.has(name!)) fail(line, `second TYPE for "${name}"`);
        types.set(name!, rest!);
      } else {
        for (let i = 0; i < rest!.length; i++) {
          if (rest![i] === "\\" && !["\\", "n"].includes(rest![++i] ?? "")) {
            fail(line, "bad escape in HELP");
          }
        }
      }
      return;
    }
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) fail(line, "sample without value");
    const name = raw.slice(0, nameEnd);
    if (!METRIC.test(name)) fail(line, `bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (raw[i] === "{") [labels, i] = parseLabels(raw, i, line);
    if (raw[i] !== " ") fail(line, "expected a space before the value");
    const parts = raw.slice(i + 1).split(" ");
    if (parts.length > 2) fail(line, "trailing text");
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(line, "bad timestamp");
    if (!familyOf(name, types)) fail(line, `sample of undeclared metric "${name}"`);
    samples.push({ name, labels, value: parseValue(parts[0]!, line) });
  });
  checkHistograms(samples, types);
  return samples;
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${family}_bucket`)) {
      if (!("le" in sample.labels)) throw new SyntaxError(`${family}: bucket without le`);
      const { le: _, ...rest } = sample.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const values = buckets.map((b) => b.value);
      if (values.some((v, i) => i > 0 && v < values[i - 1]!)) {
        throw new SyntaxError(`${family}${key}: buckets are not cumulative`);
      }
      if (buckets.at(-1)?.labels.le !== "+Inf") {
        throw new SyntaxError(`${family}${key}: last bucket is not +Inf`);
      }
      const count = samples.find((s) =>
        s.name === `${family}_count` &&
        JSON.stringify(Object.entries(s.labels).sort()) === key
      );
      if (count?.value !== values.at(-1)) {
        throw new SyntaxError(`${family}${key}: +Inf bucket differs from _count`);
      }
    }
  }
}

/** The value of the sample with this name and these labels (0 when absent). */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return found?.value ?? 0;
}
