// What the supervisor passes on of a worker's stdout: generated streams of JSON lines and native
// lines, cut into chunks at any byte (inside a line, inside a multi-byte character), from two
// workers at once, into a sink that is slow to drain. Whole JSON lines come out in order; a
// native line comes out wrapped at debug and not at all at info; a last line without its
// newline is not lost; stderr lines stay on stderr.
import { PassThrough } from "node:stream";
import test from "ava";
import fc from "fast-check";
import { WorkerOutput } from "../../../gateway/hosts/worker-output.js";
import { fcSeed } from "../../support/fc-seed.js";

/** A sink that holds little (backpressure after 64 bytes) and is read in slow turns. */
function slowSink(): { sink: PassThrough; text(): string; stop(): void } {
  const sink = new PassThrough({ highWaterMark: 64 });
  const read: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    let chunk: Buffer | null;
    while ((chunk = sink.read(50) as Buffer | null) !== null) read.push(chunk);
    timer = setTimeout(pump, 1);
  };
  pump();
  return {
    sink,
    text: () => {
      const rest = sink.read() as Buffer | null;
      if (rest !== null) read.push(rest);
      return Buffer.concat(read).toString("utf8");
    },
    stop: () => clearTimeout(timer),
  };
}

const text = fc.string({ unit: "grapheme", maxLength: 30 });
const line = fc.oneof(
  text.map((msg) => ({ own: true, msg })),
  text.filter((msg) => msg !== "" && !msg.includes("\n") && !msg.startsWith('{"level":"')).map((msg) => ({ own: false, msg })),
);
const worker = fc.record({
  lines: fc.array(line, { maxLength: 20 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  lastNewline: fc.boolean(),
});

/** Writes `bytes` cut at `cuts` (any byte, inside a character too), a turn apart, then ends. */
async function feed(stream: PassThrough, bytes: Buffer, cuts: number[]): Promise<void> {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) stream.write(bytes.subarray(at, p));
    at = p;
    await new Promise((r) => setImmediate(r));
  }
  stream.end();
}

test("two workers' stdout in random chunks through a slow sink: JSON lines whole and in order, native lines wrapped at debug and dropped at info", async (t) => {
  const seed = fcSeed();
  t.log(`seed ${seed}`);
  await fc.assert(
    fc.asyncProperty(fc.tuple(worker, worker), fc.constantFrom("info" as const, "debug" as const), async (workers, level) => {
      const out = slowSink();
      const err = slowSink();
      const output = new WorkerOutput(out.sink, err.sink, level);
      const streams = workers.map(() => new PassThrough());
      const done = Promise.all(streams.map((s, i) => output.follow(i, s, null)));
      await Promise.all(
        workers.map((w, i) => {
          // A worker's own lines carry its index (w), so each worker's order can be checked.
          const lines = w.lines.map((l) => (l.own ? JSON.stringify({ level: "info", w: i, msg: l.msg }) : l.msg));
          const text = lines.join("\n") + (lines.length > 0 && w.lastNewline ? "\n" : "");
          return feed(streams[i]!, Buffer.from(text), w.cuts);
        }),
      );
      await done;
      await new Promise((r) => setTimeout(r, 20));
      out.stop();
      err.stop();
      const got = out
        .text()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const [i, w] of workers.entries()) {
        const expected = w.lines.flatMap((l): Record<string, unknown>[] =>
          l.own
            ? [{ level: "info", w: i, msg: l.msg }]
            : level === "debug"
              ? [{ level: "debug", component: "uws", worker: i, msg: l.msg }]
              : [],
        );
        const ofWorker = got
          .filter((g) => g["w"] === i || (g["component"] === "uws" && g["worker"] === i))
          .map(({ time: _time, ...rest }) => rest);
        t.deepEqual(ofWorker, expected);
      }
      t.is(got.length, workers.reduce((n, w) => n + w.lines.filter((l) => l.own || level === "debug").length, 0));
    }),
    { seed, numRuns: 60 },
  );
});

test("stderr lines stay on stderr, whole, and a last line without its newline is passed on", async (t) => {
  const out = slowSink();
  const err = slowSink();
  const output = new WorkerOutput(out.sink, err.sink, "info");
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const done = output.follow(0, stdout, stderr);
  stderr.write("Error: boom\n    at so");
  stderr.write("mewhere (file.js:1:2)\n    at last");
  stdout.write('{"level":"error","msg":"cut short"');
  stdout.end();
  stderr.end();
  await done;
  await new Promise((r) => setTimeout(r, 20));
  out.stop();
  err.stop();
  t.is(err.text(), "Error: boom\n    at somewhere (file.js:1:2)\n    at last\n");
  t.is(out.text(), '{"level":"error","msg":"cut short"\n');
});
