"""`aigw agent-credentials`: write the AppRole login files of a deployment's agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import NeedEnv, PathArg, duration_flag, rendered_folder
from aigw.errors import EXIT_OK


def agent_credentials(
    service: Annotated[str, typer.Argument(help="The service whose agent logs in.")],
    env: NeedEnv,
    path: PathArg = Path(),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The folder the agent runs "
                                             "in (default: rendered/ENV/SERVICE/ beside the "
                                             "catalog, where `aigw render` puts "
                                             "bao-agent.hcl).")] = None,
    uses: Annotated[int, typer.Option("--uses", min=0, help="The secret-id works for this "
                                      "many logins (default 0: unlimited).")] = 0,
    ttl: Annotated[str | None, typer.Option("--ttl", help="The secret-id expires after this "
                                            "long, e.g. 24h (default: never).")] = None,
    wrap_ttl: Annotated[str | None, typer.Option("--wrap-ttl", help="Write a response-wrapping "
                                                 "token for the secret-id instead, valid this "
                                                 "long (e.g. 10m); unwrap it where it is "
                                                 "used.")] = None,
) -> int:
    """Write the AppRole role-id and a fresh secret-id for SERVICE's agent (0600; never printed)."""
    from aigw.agent_credentials import SecretIdOptions
    from aigw.agent_credentials import agent_credentials as write

    options = SecretIdOptions(uses=uses, ttl=duration_flag(ttl, "--ttl"),
                              wrap_ttl=duration_flag(wrap_ttl, "--wrap-ttl"))
    folder = out if out is not None else rendered_folder(path) / env / service
    done = write(path, service, env, folder, options)
    limits = [f"{uses} use(s)" if uses else "", f"ttl {ttl}" if ttl else "",
              f"wrapped, unwrap within {wrap_ttl}" if done.wrapped else ""]
    extra = ", ".join(x for x in limits if x)
    typer.echo(f"{done.login.role}: wrote {done.login.role_id_file} and a fresh "
               f"{done.login.secret_id_file.name}" + (f" ({extra})" if extra else "")
               + f" (mode 0600; secret-id accessor {done.accessor})")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `agent-credentials` to the app."""
    app.command("agent-credentials")(agent_credentials)
