// The conformance vectors (spec/vectors/*.json), played as spec/README.md says
// (test/helpers/vectors.mjs). Writes typescript.results.json into
// $AIGW_SPEC_RESULTS (or $AIGW_RESULTS_DIR; default spec/results/) for CI to
// compare byte for byte with the other runners' files.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { canonicalJson, playVector, RESULTS_FORMAT, resultsDir } from "./helpers/vectors.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..", "..");
const specDir = path.join(repo, "spec", "vectors");
const VECTOR_DIR = existsSync(specDir) ? specDir : path.join(repo, "tests", "client", "vectors");
const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith(".json")).sort();
const results = {};

describe("conformance vectors", () => {
  for (const file of files) {
    const id = path.basename(file, ".json");
    test(id, async () => {
      const vector = JSON.parse(readFileSync(path.join(VECTOR_DIR, file), "utf8"));
      const root = mkdtempSync(path.join(tmpdir(), "aigw-vector-"));
      try {
        results[id] = await playVector(id, vector, root);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});

after(() => {
  const dir = resultsDir(repo);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "typescript.results.json"),
                canonicalJson({ format: RESULTS_FORMAT, runner: "typescript", vectors: results }));
});
