"""Render Vault ACL policies from the Jinja templates under `policies/vault/`.

Sandboxed Jinja2 with StrictUndefined; the output is deterministic (no
timestamps, sorted paths, one trailing newline) so that the same catalog always
yields the same policy text and a plan shows no change.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from aigw.package_data import policies_dir

SERVICE_TEMPLATE = "service.hcl.j2"


@functools.lru_cache(maxsize=8)
def _template(name: str) -> Template:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(policies_dir() / "vault")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    return env.get_template(name)


def render_policy(*, name: str, service: str, environment: str, read_paths: Sequence[str],
                  template: str = SERVICE_TEMPLATE, ack_paths: Sequence[str] = ()) -> str:
    """The HCL text of a service's policy: read on exactly `read_paths`, and
    create/update (and read, for check-and-set) on exactly its `ack_paths`."""
    text = _template(template).render(name=name, service=service, environment=environment,
                                      read_paths=sorted(read_paths),
                                      ack_paths=sorted(ack_paths))
    return text.rstrip("\n") + "\n"


def render_template(template: str, **context: object) -> str:
    """The HCL text of another policy template (the CI's, see `aigw.stack.spec`)."""
    return _template(template).render(**context).rstrip("\n") + "\n"
