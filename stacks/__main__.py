"""The aigw Vault stack for the official Pulumi CLI: `pulumi up` in this folder.

Thin on purpose: it calls the same function as `aigw apply`. The stack name is
the environment; the catalog path comes from config `aigw:catalog`; the OpenBao
address, token and CA settings from BAO_*/VAULT_* in the environment, resolved
by aigw.context as for every aigw command (never from config, so the token never
lands in state).
"""

import pulumi

from aigw.context import Context
from aigw.errors import AigwError
from aigw.stack.program import run_from_project

catalog = pulumi.Config("aigw").get("catalog") or "../aigw.yaml"
try:
    addr = Context().vault.addr
except AigwError as exc:
    raise SystemExit(f"{exc.message} (set BAO_ADDR and BAO_TOKEN, or VAULT_ADDR and "
                     "VAULT_TOKEN)") from None
run_from_project(catalog, pulumi.get_stack(), addr)
