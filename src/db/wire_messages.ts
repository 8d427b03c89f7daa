/**
 * The messages of the native connection (`wire.ts`): frontend messages
 * built into one buffer, and the errors it raises with postgres.js's field
 * names, so `mapDatabaseError` reads them alike.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The error of a connection that closed or failed, as postgres.js names it. */
export function connectionClosed(cause?: unknown): Error {
  return Object.assign(new Error("Connection closed", { cause }), { code: "CONNECTION_CLOSED" });
}

/** A server ErrorResponse as an error with postgres.js's field names. */
export function serverError(body: Uint8Array): Error {
  const fields: Record<string, string> = {};
  for (let i = 0; i < body.length && body[i] !== 0;) {
    const end = body.indexOf(0, i + 1);
    fields[String.fromCharCode(body[i]!)] = decoder.decode(body.subarray(i + 1, end));
    i = end + 1;
  }
  return Object.assign(new Error(fields.M ?? "Unknown server error"), {
    name: "PostgresError",
    severity: fields.V ?? fields.S,
    code: fields.C,
    detail: fields.D,
    hint: fields.H,
    schema_name: fields.s,
    table_name: fields.t,
    column_name: fields.c,
    constraint_name: fields.n,
    routine: fields.R,
  });
}

/** Builds frontend messages into one buffer, written at once. */
export class Writer {
  #bytes = new Uint8Array(1024);
  #view = new DataView(this.#bytes.buffer);
  length = 0;
  #start = 0;

  #ensure(more: number): void {
    if (this.length + more <= this.#bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + more));
    bigger.set(this.#bytes.subarray(0, this.length));
    this.#bytes = bigger;
    this.#view = new DataView(bigger.buffer);
  }
  begin(type: string): this {
    this.#ensure(5);
    this.#start = this.length;
    this.#bytes[this.length] = type.charCodeAt(0);
    this.length += 5;
    return this;
  }
  end(): this {
    this.#view.setInt32(this.#start + 1, this.length - this.#start - 1);
    return this;
  }
  int16(value: number): this {
    this.#ensure(2);
    this.#view.setInt16(this.length, value);
    this.length += 2;
    return this;
  }
  int32(value: number): this {
    this.#ensure(4);
    this.#view.setInt32(this.length, value);
    this.length += 4;
    return this;
  }
  /** A zero-terminated string. */
  cstring(text: string): this {
    this.#ensure(text.length * 3 + 1);
    this.length += encoder.encodeInto(text, this.#bytes.subarray(this.length)).written;
    this.#bytes[this.length++] = 0;
    return this;
  }
  /** A length-prefixed value (-1 for NULL). */
  value(text: string | null): this {
    if (text === null) return this.int32(-1);
    this.#ensure(text.length * 3 + 4);
    const written = encoder.encodeInto(text, this.#bytes.subarray(this.length + 4)).written;
    this.#view.setInt32(this.length, written);
    this.length += 4 + written;
    return this;
  }
  /** Takes the bytes written so far and starts over. */
  take(): Uint8Array {
    const bytes = this.#bytes.slice(0, this.length);
    this.length = 0;
    return bytes;
  }
}
