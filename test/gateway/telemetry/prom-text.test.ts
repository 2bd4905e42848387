// The strict exposition reader the e2e metrics tests rely on refuses what a scraper would misread.
import test from "ava";
import { parsePrometheusText } from "../../support/prom-text.js";

const VALID = `# HELP a_total A.
# TYPE a_total counter
a_total{x="1"} 2
a_total{x="2",y="q\\"\\\\\\n"} 3
# HELP h_seconds H.
# TYPE h_seconds histogram
h_seconds_bucket{le="0.1"} 1
h_seconds_bucket{le="+Inf"} 2
h_seconds_sum 0.3
h_seconds_count 2
g Nan
`;

test("a valid exposition parses into families and samples", (t) => {
  const families = parsePrometheusText(VALID);
  t.deepEqual([...families.keys()], ["a_total", "h_seconds", "g"]);
  t.is(families.get("a_total")?.samples[1]?.labels["y"], 'q"\\\n');
  t.is(families.get("h_seconds")?.samples.length, 4);
  t.true(Number.isNaN(families.get("g")?.samples[0]?.value));
});

const broken: [string, string, RegExp][] = [
  ["a series twice", VALID.replace('a_total{x="1"} 2\n', 'a_total{x="1"} 2\na_total{x="1"} 5\n'), /appears twice/],
  ["the same series with its labels in another order", VALID + 'k{a="1",b="2"} 1\nk{b="2",a="1"} 1\n', /appears twice/],
  ["a family in two blocks", VALID + 'a_total{x="3"} 1\n', /split/],
  ["a second TYPE", VALID.replace("# TYPE h_seconds histogram", "# TYPE h_seconds histogram\n# TYPE h_seconds histogram"), /TYPE/],
  ["a bucket without le", VALID.replace('h_seconds_bucket{le="0.1"}', "h_seconds_bucket"), /without le/],
  ["a bad escape", VALID.replace('"q\\"', '"q\\t'), /bad escape/],
  ["a value that is no number", VALID.replace("h_seconds_sum 0.3", "h_seconds_sum 0,3"), /bad value/],
  ["an unquoted label value", VALID.replace('{x="1"}', "{x=1}"), /not quoted/],
  ["no final newline", VALID.trimEnd(), /newline/],
];

for (const [what, text, error] of broken) {
  test(`refused: ${what}`, (t) => {
    t.throws(() => parsePrometheusText(text), { message: error });
  });
}
