// Http01Responder: answers only tokens it was given, only under the challenge prefix, and
// refuses tokens that are not base64url.
import test from "ava";
import { Http01Responder } from "../../certs/http01.js";

const TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const path = (token: string) => `/.well-known/acme-challenge/${token}`;

test("answers a token it holds until it is removed", (t) => {
  const responder = new Http01Responder();
  responder.set(TOKEN, KEY_AUTH);
  t.is(responder.answer(path(TOKEN)), KEY_AUTH);
  t.is(responder.pending, 1);
  responder.remove(TOKEN);
  t.is(responder.answer(path(TOKEN)), undefined);
  t.is(responder.pending, 0);
});

test("unknown tokens and other paths get no answer", (t) => {
  const responder = new Http01Responder();
  responder.set(TOKEN, KEY_AUTH);
  t.is(responder.answer(path("someOtherToken")), undefined);
  t.is(responder.answer(`/${TOKEN}`), undefined);
  t.is(responder.answer(`/.well-known/acme-challenge`), undefined);
  t.is(responder.answer(path("")), undefined);
  t.is(responder.answer(`/prefix${path(TOKEN)}`), undefined);
});

test("paths whose token is not base64url get no answer", (t) => {
  const responder = new Http01Responder();
  responder.set(TOKEN, KEY_AUTH);
  const bad = [`${TOKEN}/`, `${TOKEN}?x=1`, `${TOKEN}=`, `../${TOKEN}`, `${TOKEN}%00`, "a b", "a+b", "x".repeat(129)];
  for (const token of bad) t.is(responder.answer(path(token)), undefined, token);
});

test("refuses to hold a bad token or a key authorization for another token", (t) => {
  const responder = new Http01Responder();
  t.throws(() => responder.set("a/b", "a/b.thumb"), { message: /base64url/ });
  t.throws(() => responder.set("", ".thumb"), { message: /base64url/ });
  t.throws(() => responder.set(TOKEN, "otherToken.thumb"), { message: /<token>\.<thumbprint>/ });
  t.throws(() => responder.set(TOKEN, `${TOKEN}.`), { message: /<token>\.<thumbprint>/ });
  t.throws(() => responder.set(TOKEN, `${TOKEN}.thumb\r\nInjected: yes`), { message: /<token>\.<thumbprint>/ });
  t.is(responder.pending, 0);
});
