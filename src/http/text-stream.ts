// A response body written while it is produced: `produce` writes text pieces; they go out in chunks of about
// CHUNK characters (fewer, larger writes to the socket than one per piece). Invariants:
// - Each time a chunk is handed over, `write` returns a promise that resolves on the next turn of the event
//   loop: the producer awaits it, so the chunk can leave (and other requests be served) while the rest is built.
// - The body is resolved at the first piece (or at the end, if none came): a failure before that rejects, so
//   the route answers it as any error; a failure after it ends the response early (the client sees a
//   truncated body on a closed connection, never a complete-looking one).
// - Once the body is closed (the client went away), `write` throws: the producer stops there.
// - Pieces are queued without waiting for the client: a slow reader holds memory (the body, as an answer
//   built whole would), never the producer's database transaction.
import { Readable } from "node:stream";

const CHUNK = 64 * 1024;

/** Writes a piece of the body; await what it returns (a point where the chunk written so far goes out). */
export type TextWriter = (text: string) => void | Promise<void>;

export function textStream(
  produce: (write: TextWriter) => Promise<void>,
  { prefix = "", suffix = "" }: { prefix?: string; suffix?: string } = {},
): Promise<Readable> {
  // Chunks stay strings (object mode) all the way to the socket, which encodes each as it writes it. Turned
  // into buffers on the way (a byte stream does that), a 23 MB answer is ~360 allocations of 64 KB that the C
  // allocator does not give back: a server that had sent the 100,000-task matrix ten times stayed at ~300 MB
  // (~160 MB half a minute later) against ~115 MB this way and ~105 MB for the same answer sent whole.
  const body = new Readable({ read() {}, objectMode: true });
  // The error is the reader's to report (Fastify logs it and ends the response); one raised before the reader
  // has attached its listeners must not be thrown as an uncaught exception meanwhile.
  body.on("error", () => {});
  let pending = prefix;
  let started = false;
  const flush = () => {
    if (pending.length > 0) body.push(pending);
    pending = "";
  };
  return new Promise<Readable>((resolve, reject) => {
    const write: TextWriter = (text) => {
      if (body.destroyed) throw new Error("the body was closed before it was complete");
      pending += text;
      started = true;
      resolve(body);
      if (pending.length < CHUNK) return;
      flush();
      return new Promise<void>((next) => setImmediate(next));
    };
    produce(write).then(
      () => {
        pending += suffix;
        flush();
        body.push(null);
        resolve(body);
      },
      (err: unknown) => {
        // Before the first piece nobody holds the body: the caller gets the error instead.
        if (!started) {
          body.destroy();
          reject(err);
          return;
        }
        body.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
