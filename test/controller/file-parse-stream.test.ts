// parseFile reads a file one document at a time (a big file never holds every syntax tree at
// once); whatever the stream holds, it loads and reports exactly what reading it whole does.
import test from "ava";
import fc from "fast-check";
import { type LoadResult, parseFile, parseWhole } from "../../controller/provider/file.js";
import { fcSeed } from "../support/fc-seed.js";

const DOCUMENTS = [
  "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {ports: [{port: 80}]}\n",
  "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 81, name: http}]}\n",
  "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {ports: [{port: 82}]}\n",
  "kind: Unknown\nmetadata: {name: x}\n",
  "kind: Service\nmetadata: {name: [unclosed\n",
  "kind: Service\n  bad: indentation\n",
  "a: &x [1, 2]\nb: *x\nc: *missing\n",
  "apiVersion: v1\nkind: Service\nmetadata: {name: anchored}\nspec: &s {ports: [{port: 80}]}\n",
  "",
  "# only a comment\n",
  "plain scalar\n",
  "- a list\n- at the top\n",
  "\"unterminated\n",
  "key: value\nkey: again\n",
];

const stream = fc
  .array(fc.tuple(fc.constantFrom(...DOCUMENTS), fc.constantFrom("---\n", "...\n---\n", "--- \n")), { maxLength: 8 })
  .map((parts) => parts.map(([doc, sep], i) => (i === 0 ? doc : `${sep}${doc}`)).join(""));

test("a file read document by document gives what reading it whole gives", (t) => {
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  fc.assert(
    fc.property(stream, (text) => {
      const streamed: LoadResult = { resources: [], errors: [] };
      const whole: LoadResult = { resources: [], errors: [] };
      let streamedError: unknown;
      let wholeError: unknown;
      try {
        parseFile("f.yaml", text, streamed);
      } catch (err) {
        streamedError = (err as Error).message;
      }
      try {
        parseWhole("f.yaml", text, whole);
      } catch (err) {
        wholeError = (err as Error).message;
      }
      t.deepEqual(streamedError, wholeError);
      t.deepEqual(streamed, whole);
    }),
    { seed, numRuns: 1000 },
  );
});
