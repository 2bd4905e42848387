// A worker process's stdout and stderr, passed on by its supervisor line by line, so that the
// gateway's stdout carries nothing but whole JSON lines. The workers' own loggers write JSON
// lines (they begin `{"level":"`); anything else there is printed by native code, which pino
// cannot see: uWebSockets.js 20.30 prints `finding NAME` and `Browsed to SNI: NAME` for every
// SNI name it is given. Such a line is wrapped as a debug line of component "uws", shown only
// at --log-level debug. stderr (a crash's stack, Node's warnings) stays on stderr, in whole lines.
import type { Readable } from "node:stream";
import type { LogLevel } from "../telemetry/log-lines.js";

/** Where lines go: pino's destination (sonic-boom) or anything with the same backpressure. */
export interface LineSink {
  /** False once the sink holds more than it likes: stop feeding it until "drain". */
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

const OWN_LINE = '{"level":"';
/** A "line" that grows beyond this without a newline is passed on in pieces: memory stays bounded. */
const MAX_LINE = 1 << 20;
const SHOWS_DEBUG: ReadonlySet<LogLevel> = new Set(["trace", "debug"]);

/** One per supervisor: the lines of all its workers into one sink, never interleaved inside a line. */
export class WorkerOutput {
  private readonly paused = new Set<Readable>();
  private waitingForDrain = false;
  private readonly showNative: boolean;

  constructor(
    private readonly stdout: LineSink,
    private readonly stderr: LineSink,
    level: LogLevel,
  ) {
    this.showNative = SHOWS_DEBUG.has(level);
  }

  /** Follows worker `index`'s streams; settles when both have ended and everything read is passed on. */
  follow(index: number, out: Readable | null, err: Readable | null): Promise<void> {
    return Promise.all([
      out === null ? undefined : this.lines(out, (text) => this.ownLines(text, index), this.stdout),
      err === null ? undefined : this.lines(err, (text) => text, this.stderr),
    ]).then(() => undefined);
  }

  private lines(stream: Readable, shape: (complete: string) => string, sink: LineSink): Promise<void> {
    stream.setEncoding("utf8");
    let rest = "";
    const pass = (text: string): void => {
      if (text !== "" && !sink.write(text)) this.backOff(sink);
    };
    stream.on("data", (chunk: string) => {
      const text = rest === "" ? chunk : rest + chunk;
      const end = text.lastIndexOf("\n") + 1;
      if (end === 0) {
        rest = text;
        if (rest.length > MAX_LINE) {
          pass(shape(rest + "\n"));
          rest = "";
        }
        return;
      }
      rest = end === text.length ? "" : text.slice(end);
      pass(shape(end === text.length ? text : text.slice(0, end)));
    });
    this.track(stream);
    return new Promise((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        // A last line without its newline (the worker died mid-write) is still passed on.
        if (rest !== "") pass(shape(rest + "\n"));
        rest = "";
        this.paused.delete(stream);
        resolve();
      };
      stream.once("end", finish);
      // "close" without "end": the stream was destroyed; what was read is passed on all the same.
      stream.once("close", finish);
      stream.once("error", finish);
    });
  }

  /** Whole lines of a worker's stdout: its JSON lines as they are, any other line wrapped (or dropped). */
  private ownLines(text: string, index: number): string {
    if (allOwn(text)) return text;
    let shaped = "";
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf("\n", start) + 1 || text.length;
      const line = text.slice(start, end);
      start = end;
      if (line.startsWith(OWN_LINE)) shaped += line;
      else if (this.showNative && line !== "\n") shaped += nativeLine(line.endsWith("\n") ? line.slice(0, -1) : line, index);
    }
    return shaped;
  }

  private readonly streams = new Set<Readable>();

  private track(stream: Readable): void {
    this.streams.add(stream);
    stream.once("close", () => this.streams.delete(stream));
    if (this.waitingForDrain) this.pause(stream);
  }

  /** The sink is full: every worker waits (its own writes queue in its pipe) until it drains. */
  private backOff(sink: LineSink): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    for (const s of this.streams) this.pause(s);
    sink.once("drain", () => {
      this.waitingForDrain = false;
      for (const s of this.paused) s.resume();
      this.paused.clear();
    });
  }

  private pause(stream: Readable): void {
    stream.pause();
    this.paused.add(stream);
  }
}

/** Whether every line of `text` (whole lines) is a JSON line of meshgate's loggers: the usual case, one scan. */
function allOwn(text: string): boolean {
  for (let start = 0; start < text.length; start = text.indexOf("\n", start) + 1 || text.length) {
    if (!text.startsWith(OWN_LINE, start)) return false;
  }
  return true;
}

function nativeLine(line: string, index: number): string {
  return `{"level":"debug","time":"${new Date().toISOString()}","component":"uws","worker":${index},"msg":${JSON.stringify(line)}}\n`;
}
