"""The aigw Vault stack for the official Pulumi CLI: `pulumi up` in this folder.

Thin on purpose: it calls the same function as `aigw apply`. The stack name is
the environment; the catalog path comes from config `aigw:catalog`; the OpenBao
address from BAO_ADDR/VAULT_ADDR and the token from BAO_TOKEN/VAULT_TOKEN in
the environment (never from config, so it never lands in state).
"""

import os

import pulumi

from aigw.stack.program import run_from_project

catalog = pulumi.Config("aigw").get("catalog") or "../aigw.yaml"
addr = os.environ.get("BAO_ADDR") or os.environ.get("VAULT_ADDR") or ""
if not addr:
    raise SystemExit("set BAO_ADDR (or VAULT_ADDR) to the OpenBao/Vault address")
run_from_project(catalog, pulumi.get_stack(), addr)
