"""After `aigw apply` (real Pulumi engine, real OpenBao), each service may write exactly its own
acknowledgements: one per slot it uses, under its own name, and no other service's.

Each service logs in with its own AppRole (the stack's role and policy) and writes
through the KV v2 API with check-and-set, as the runtime does (aigw.client.acks).
"""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments, environment_slots
from aigw.stack import approle_credentials, approle_login, role_name
from tests.stack.conftest import EXAMPLES, StackRig

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _write(client: hvac.Client, path: str) -> bool:
    try:
        client.adapter.post(f"/v1/aigw/data/{path}",
                            json={"options": {"cas": 0}, "data": {"fingerprint": "f"}})
    except hvac.exceptions.Forbidden:
        return False
    return True


def test_each_service_writes_its_own_acks_and_no_others(rig: StackRig) -> None:
    rig.apply(EXAMPLES, "prod")
    cat = load_catalog(EXAMPLES).catalog
    admin = rig.client()
    deps = deployments(cat, env="prod")
    slots = environment_slots(cat, "prod")
    written = 0
    for dep in deps:
        svc = approle_login(rig.bao.addr, approle_credentials(admin, role_name("prod",
                                                                          dep.service)))
        for ref in slots:
            mine = f"prod/_aigw/acks/{ref.provider}/{ref.slot}/{dep.service}"
            assert _write(svc, mine) == (ref in dep.slots), (dep.service, mine)
            written += ref in dep.slots
            for other in deps:
                if other.service != dep.service:
                    theirs = f"prod/_aigw/acks/{ref.provider}/{ref.slot}/{other.service}"
                    assert not _write(svc, theirs), (dep.service, theirs)
    assert written == sum(len(d.slots) for d in deps) > 0
