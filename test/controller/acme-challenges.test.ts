// The challenge board: an HTTP-01 answer counts as published only once a Snapshot carrying it
// has been applied, so acme-client never asks the CA to validate before the gateway serves it.
import test from "ava";
import { ChallengeBoard } from "../../controller/acme-challenges.js";

const TOKEN = "tok_en-1";
const ANSWER = `${TOKEN}.thumbprint`;

test("set() resolves only after a Snapshot with the answer is applied", async (t) => {
  let reconciles = 0;
  const board = new ChallengeBoard(() => reconciles++);
  let resolved = false;
  const published = board.set(TOKEN, ANSWER).then(() => {
    resolved = true;
  });
  t.is(reconciles, 1, "a reconcile is asked for at once");
  t.deepEqual(board.current(), { [TOKEN]: ANSWER });

  board.applied({}); // a Snapshot translated before the answer arrived
  board.applied({ [TOKEN]: "other.answer" });
  await new Promise((r) => setImmediate(r));
  t.false(resolved);

  board.applied({ [TOKEN]: ANSWER });
  await published;
  t.true(resolved);

  board.remove(TOKEN);
  t.deepEqual(board.current(), {});
  t.is(reconciles, 2);
});

test("an answer the gateway never applies fails the order with the reason", async (t) => {
  const board = new ChallengeBoard(() => {}, 50);
  const err = await t.throwsAsync(board.set(TOKEN, ANSWER));
  t.regex(err?.message ?? "", /did not apply the HTTP-01 answer within 0.05 s/);
});

test("malformed tokens and answers are refused; stopping fails what still waits", async (t) => {
  const board = new ChallengeBoard(() => {});
  await t.throwsAsync(board.set("../etc", "x"), { message: /token must be base64url/ });
  await t.throwsAsync(board.set(TOKEN, "other.thumbprint"), { message: /must be <token>\.<thumbprint>/ });
  t.deepEqual(board.current(), {});
  const waiting = board.set(TOKEN, ANSWER);
  board.close();
  await t.throwsAsync(waiting, { message: /stopping/ });
});
