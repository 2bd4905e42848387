// One dispatched request, which is also the controller its handler gets (undici 7's API).
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { H1Connection } from "./connection.js";
import type { BodyFraming } from "./request-head.js";

export const enum RequestState {
  /** Waiting for a connection (in the pool's queue, or held for a fresh connection). */
  Queued,
  /** Given a connection; `onRequestStart` is running and nothing is written yet. */
  Starting,
  Active,
  /** Response complete, `onResponseEnd` about to run: abort and pause do nothing now. */
  Ending,
  Done,
}

/** What a request needs of its pool: to leave the queue when aborted there. */
export interface RequestQueueOwner {
  cancelQueued(request: H1Request): void;
}

export class H1Request implements Dispatcher.DispatchController, BodyFraming {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  state = RequestState.Queued;
  conn: H1Connection | null = null;
  /** The serialised head; set by the pool before the request is queued or started. */
  head = "";
  contentLength = -1;
  chunked = false;
  /** Already retried once after a stale keep-alive connection closed under it. */
  retried = false;
  /** false: the caller retries resets itself (a rule's retry), so a stale-connection close is not resent here. */
  resendIfStale = true;
  /** Told with the response head: whether it holds bytes above 0x7F (ResponseParser.highBytes). */
  highBytes = true;

  constructor(
    private readonly owner: RequestQueueOwner,
    readonly method: string,
    readonly body: Readable | null,
    readonly handler: Dispatcher.DispatchHandler,
  ) {
    // Listening from the start, as undici does: a body that fails while the request waits
    // aborts it, and one that fails after the request ended is not an uncaught exception.
    if (body !== null) body.on("error", this.onBodyError);
  }

  private readonly onBodyError = (err: Error): void => {
    // Once the request has a connection, the upload reports the error itself.
    if (this.state === RequestState.Queued) this.abort(err);
  };

  abort(reason: Error): void {
    if (this.aborted || this.state >= RequestState.Ending) return;
    this.aborted = true;
    this.reason = reason;
    if (this.state === RequestState.Queued) this.owner.cancelQueued(this);
    else this.conn?.abortRequest(this);
    this.fail(reason);
  }

  pause(): void {
    if (this.state >= RequestState.Ending) return;
    this.paused = true;
    this.conn?.pauseReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn?.resumeReading();
  }

  /** Ends the request with an error, unless it already ended. */
  fail(err: Error): void {
    if (this.state === RequestState.Done) return;
    this.state = RequestState.Done;
    this.conn = null;
    this.handler.onResponseError?.(this, err);
  }

  /** Ends the request successfully. */
  end(trailers: IncomingHttpHeaders): void {
    if (this.state === RequestState.Done) return;
    this.state = RequestState.Done;
    this.handler.onResponseEnd?.(this, trailers);
  }
}
