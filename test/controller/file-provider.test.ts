// The file provider on a real folder: which files count, in which order, and change detection.
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { loadFolder, watchFolder } from "../../controller/provider/file.js";

const svc = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: 80}]}\n`;

test("reads *.yaml and *.yml directly in the folder, in lexical order, skipping dot-files and others", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-files-"));
  writeFileSync(join(dir, "b.yaml"), svc("second"));
  writeFileSync(join(dir, "a.yml"), `${svc("first")}---\n${svc("first-bis")}`);
  writeFileSync(join(dir, ".hidden.yaml"), svc("hidden"));
  writeFileSync(join(dir, "notes.txt"), svc("text"));
  writeFileSync(join(dir, "empty.yaml"), "");
  const { resources, errors } = await loadFolder(dir);
  t.deepEqual(errors, []);
  t.deepEqual(
    resources.map((r) => r.metadata.name),
    ["first", "first-bis", "second"],
  );
  t.is(resources[0]?.source, "a.yml");
});

test("a file replaced by rename is noticed well within a second", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-watch-"));
  writeFileSync(join(dir, "a.yaml"), svc("one"));
  let changes = 0;
  const watcher = watchFolder(dir, () => {
    changes++;
  });
  try {
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    writeFileSync(join(dir, ".a.yaml.tmp"), svc("two"));
    renameSync(join(dir, ".a.yaml.tmp"), join(dir, "a.yaml"));
    while (changes === 0 && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 10));
    t.true(changes >= 1);
    t.true(Date.now() - started < 1000);
    const { resources } = await loadFolder(dir);
    t.is(resources[0]?.metadata.name, "two");
  } finally {
    watcher.close();
  }
});
