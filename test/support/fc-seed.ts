// The seed of a generated test: FC_SEED replays a run; otherwise a fresh one, which the test logs.

export function fcSeed(): number {
  const text = process.env["FC_SEED"];
  if (text === undefined || text === "") return Math.floor(Math.random() * 0x7fffffff);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`FC_SEED must be an integer, got ${text}`);
  return value;
}
