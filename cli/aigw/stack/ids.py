"""The stacks' Pulumi project name and the outputs each stack records.

Plain constants, without the Pulumi SDK: `aigw plan` reads them when it answers
from the last apply's fingerprint (aigw.stack.fastplan), which never imports the
SDK (about a second of every plan).
"""

from __future__ import annotations

PROJECT = "aigw"
# The stack output naming the OpenBao server the state was recorded against
# (its `sys/health` cluster_id): `aigw plan` compares it with the server it talks to.
SERVER_OUTPUT = "openbao_cluster_id"
# The stack output holding the digest of the spec the run was given (aigw.stack.fastplan):
# it is written with the state, so the state itself says which spec produced it.
SPEC_OUTPUT = "aigw_spec_digest"
