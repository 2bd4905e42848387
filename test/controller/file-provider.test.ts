// The file provider on real folders: which files count, in which order, and change detection.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { loadFolder, watchFolder } from "../../controller/provider/file.js";
import { waitFor } from "../support/net.js";

const svc = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: 80}]}\n`;

function folder(): string {
  return mkdtempSync(join(tmpdir(), "meshgate-files-"));
}

test("reads *.yaml and *.yml directly in the folder, in lexical order, skipping dot-files and others", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "b.yaml"), svc("second"));
  writeFileSync(join(dir, "a.yml"), `${svc("first")}---\n${svc("first-bis")}`);
  writeFileSync(join(dir, "B.yaml"), svc("upper-case-sorts-first"));
  writeFileSync(join(dir, ".hidden.yaml"), svc("hidden"));
  writeFileSync(join(dir, "notes.txt"), svc("text"));
  writeFileSync(join(dir, "c.yaml.bak"), svc("backup"));
  writeFileSync(join(dir, "empty.yaml"), "");
  writeFileSync(join(dir, "separators.yaml"), "---\n---\n");
  mkdirSync(join(dir, "nested.yaml"));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "deep.yaml"), svc("deep"));
  const { resources, errors } = await loadFolder(dir);
  t.deepEqual(errors, []);
  t.deepEqual(
    resources.map((r) => `${r.source}:${r.metadata.name}`),
    ["B.yaml:upper-case-sorts-first", "a.yml:first", "a.yml:first-bis", "b.yaml:second"],
  );
});

test("a broken file is reported with its name while the rest of the folder loads", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "a.yaml"), svc("before"));
  writeFileSync(join(dir, "broken.yaml"), "kind: Gateway\nmetadata: {name: [unclosed\n");
  writeFileSync(
    join(dir, "c.yaml"),
    `${svc("after")}---\napiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n`,
  );
  const { resources, errors } = await loadFolder(dir);
  t.deepEqual(
    resources.map((r) => r.metadata.name),
    ["before", "after"],
  );
  t.deepEqual(
    errors.map((e) => [e.file, e.document]),
    [
      ["broken.yaml", 0],
      ["c.yaml", 1],
    ],
  );
});

test("symlinked files are followed (as in a ConfigMap volume), dangling ones skipped", async (t) => {
  const dir = folder();
  const data = join(dir, "..data");
  mkdirSync(data);
  writeFileSync(join(data, "routes.yaml"), svc("linked"));
  symlinkSync(join(data, "routes.yaml"), join(dir, "routes.yaml"));
  symlinkSync(join(dir, "missing.yaml"), join(dir, "dangling.yaml"));
  const { resources, errors } = await loadFolder(dir);
  t.deepEqual(errors, []);
  t.deepEqual(
    resources.map((r) => `${r.source}:${r.metadata.name}`),
    ["routes.yaml:linked"],
  );
});

test("a missing folder rejects", async (t) => {
  await t.throwsAsync(loadFolder(join(folder(), "nope")), { code: "ENOENT" });
});

/** Counts onChange calls; waits until one arrives, and says how long that took. */
function watching(dir: string) {
  let changes = 0;
  const watcher = watchFolder(dir, () => {
    changes++;
  });
  return {
    watcher,
    count: () => changes,
    async changed(after: () => void): Promise<number> {
      const before = changes;
      const started = Date.now();
      after();
      await waitFor(() => changes > before, 3000, 5);
      return Date.now() - started;
    },
  };
}

test("a file replaced by rename is noticed well within a second, once per burst", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "a.yaml"), svc("one"));
  const w = watching(dir);
  try {
    await new Promise((r) => setTimeout(r, 50));
    const took = await w.changed(() => {
      writeFileSync(join(dir, ".a.yaml.tmp"), svc("two"));
      renameSync(join(dir, ".a.yaml.tmp"), join(dir, "a.yaml"));
    });
    t.true(took < 1000, `took ${took} ms`);
    const { resources } = await loadFolder(dir);
    t.is(resources[0]?.metadata.name, "two");
    // The temporary file and the rename were one burst: one reload, not one per event.
    await new Promise((r) => setTimeout(r, 300));
    t.is(w.count(), 1);
  } finally {
    w.watcher.close();
  }
});

test("in-place writes, new files and removals are noticed; a briefly empty folder is survived", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "a.yaml"), svc("one"));
  const w = watching(dir);
  try {
    await new Promise((r) => setTimeout(r, 50));
    t.true((await w.changed(() => writeFileSync(join(dir, "a.yaml"), svc("edited")))) < 1000);
    t.true((await w.changed(() => writeFileSync(join(dir, "b.yml"), svc("added")))) < 1000);
    t.true(
      (await w.changed(() => {
        unlinkSync(join(dir, "a.yaml"));
        unlinkSync(join(dir, "b.yml"));
      })) < 1000,
    );
    t.deepEqual((await loadFolder(dir)).resources, []);
    t.true((await w.changed(() => writeFileSync(join(dir, "c.yaml"), svc("back")))) < 1000);
    t.is((await loadFolder(dir)).resources[0]?.metadata.name, "back");
  } finally {
    w.watcher.close();
  }
});

test("a folder deleted and created again is watched again", async (t) => {
  const dir = folder();
  writeFileSync(join(dir, "a.yaml"), svc("one"));
  const w = watching(dir);
  try {
    await new Promise((r) => setTimeout(r, 50));
    await w.changed(() => rmSync(dir, { recursive: true }));
    // The re-armed watch reports the folder's return, then changes inside it.
    await w.changed(() => {
      mkdirSync(dir);
      writeFileSync(join(dir, "a.yaml"), svc("two"));
    });
    await new Promise((r) => setTimeout(r, 400));
    t.true((await w.changed(() => writeFileSync(join(dir, "b.yaml"), svc("three")))) < 1000);
    t.deepEqual(
      (await loadFolder(dir)).resources.map((r) => r.metadata.name),
      ["two", "three"],
    );
  } finally {
    w.watcher.close();
  }
});

test("close stops the notifications", async (t) => {
  const dir = folder();
  const w = watching(dir);
  await new Promise((r) => setTimeout(r, 50));
  w.watcher.close();
  writeFileSync(join(dir, "a.yaml"), svc("late"));
  await new Promise((r) => setTimeout(r, 300));
  t.is(w.count(), 0);
});
