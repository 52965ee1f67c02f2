// Reads each generated schema given on the command line with graphql-js,
// beside an application schema declaring Query, and prints for each the
// FeatureFlags fields' descriptions and deprecation reasons as JSON. A
// schema graphql-js refuses exits 1 with its error.
import { readFileSync } from "node:fs";
import { buildSchema } from "graphql";

const out = {};
for (const file of process.argv.slice(2)) {
  let schema;
  try {
    schema = buildSchema("type Query { ping: Boolean }\n" + readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(1);
  }
  const fields = {};
  for (const [name, f] of Object.entries(schema.getType("FeatureFlags").getFields())) {
    fields[name] = { description: f.description ?? "", deprecationReason: f.deprecationReason ?? "" };
  }
  out[file] = fields;
}
console.log(JSON.stringify(out));
