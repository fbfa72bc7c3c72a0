"""Evals as code: each changed alias's eval set, old routes against new, in the PR.

- `loader` and `cases`: eval sets in promptfoo's format (`evals/<name>.yaml` + JSONL
  cases), their assertions and cases;
- `graders`: promptfoo's assertion types, one registry;
- `runner`: calls through `aigw.client` and the official SDKs, bounded concurrency;
- `cache`: answers by (routes, request), so a re-run calls no provider;
- `keyfolder`: the providers' `eval` keys (a folder, or OpenBao), never argv;
- `compare`: `aigw eval` itself (which aliases, base against head);
- `report` and `results`: the tables, the results file, and `input.evals` for Rego.

This package's `__init__` imports nothing: governance reads results
(`aigw.evals.results`) without loading the client or the SDKs.
"""
