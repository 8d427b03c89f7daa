import { assertEquals } from "../../tests/_assert.ts";
import { startProgress } from "./progress.ts";

function io(terminal: boolean) {
  const written: string[] = [];
  return {
    written,
    io: {
      out: () => {},
      err: (t: string) => void written.push(t),
      env: () => undefined,
      errIsTerminal: () => terminal,
    },
  };
}

Deno.test("progress is drawn on a terminal and cleared at the end", () => {
  const { written, io: terminal } = io(true);
  const progress = startProgress(terminal);
  progress.update("rebuild orders: position 10 of 20");
  progress.done();
  assertEquals(written, ["\r\x1b[2Krebuild orders: position 10 of 20", "\r\x1b[2K"]);
});

Deno.test("progress stays silent when stderr is not a terminal", () => {
  const { written, io: piped } = io(false);
  const progress = startProgress(piped);
  progress.update("anything");
  progress.done();
  assertEquals(written, []);
});
