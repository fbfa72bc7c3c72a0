"""Kubernetes-auth roles declared by the stack, and the k8s manifests that name them.

Every deployment rendering `k8s-injector` or `k8s-csi` gets a role
`auth/kubernetes/role/aigw-<env>-<service>` bound to its service account and
namespace (catalog `services.<name>.kubernetes`, defaulting to the service's and
the environment's names). A real login needs a real Kubernetes API server to
review the pod's token (OpenBao calls TokenReview), which these tests do not
have: they configure the method with a dummy `kubernetes_host` and assert the
roles' stored config in a real OpenBao instead. The rendered manifests
(ServiceAccount, Deployment, SecretProviderClass) are validated as written by
tests/render/k8s_checks.py (tested there, broken documents included); here their
roles and identities are checked against what the stack declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments
from aigw.errors import CatalogError
from aigw.render import render_all
from aigw.stack.spec import K8S_OUTPUTS, environment_spec, role_name
from tests.render.k8s_checks import check_file, documents
from tests.stack.conftest import StackRig


def _rendered(folder: Path) -> dict[str, list[dict[str, Any]]]:
    loaded = load_catalog(folder)
    return {rel: documents(blob) for rel, blob in render_all(loaded).items()
            if Path(rel).name.startswith("k8s-")}


def _declared_k8s_roles(folder: Path) -> dict[str, dict[str, Any]]:
    cat = load_catalog(folder).catalog
    out: dict[str, dict[str, Any]] = {}
    for env in cat.environments:
        k8s = environment_spec(cat, env).k8s
        out.update({r.name: dict(r.params) for r in (k8s.roles if k8s else ())})
    return out


def _role_and_identity(rel: str, docs: list[dict[str, Any]]) -> tuple[str, str, str]:
    """A rendered file, validated as written: the role its pods log in as, and who they are."""
    by_kind = check_file(docs, rel)
    account = by_kind["ServiceAccount"]["metadata"]
    if "SecretProviderClass" in by_kind:
        role = by_kind["SecretProviderClass"]["spec"]["parameters"]["roleName"]
    else:
        template = by_kind["Deployment"]["spec"]["template"]
        role = template["metadata"]["annotations"]["vault.hashicorp.com/role"]
    return str(role), account["namespace"], account["name"]


def test_rendered_manifests_are_valid_and_name_declared_roles(catalog_dir: Path) -> None:
    """Each rendered file's pods log in as their deployment's role, which is bound to
    exactly the namespace and ServiceAccount the file creates."""
    _edit(catalog_dir, **{"eu-contracts": {"kubernetes": {"namespace": "legal",
                                                           "service_account": "contracts"}}})
    declared = _declared_k8s_roles(catalog_dir)
    named = set()
    for rel, docs in _rendered(catalog_dir).items():
        env, service, _name = Path(rel).parts
        role, namespace, account = _role_and_identity(rel, docs)
        assert role == role_name(env, service) and role in declared, rel
        assert declared[role]["bound_service_account_names"] == [account], rel
        assert declared[role]["bound_service_account_namespaces"] == [namespace], rel
        named.add(role)
    assert named == set(declared) and len(named) >= 3  # every declared role is used


def _edit(folder: Path, **services: dict[str, Any]) -> None:
    path = folder / "aigw.yaml"
    data = yaml.safe_load(path.read_text())
    for name, fields in services.items():
        data["services"][name].update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_kubernetes_identity_comes_from_the_catalog(catalog_dir: Path) -> None:
    _edit(catalog_dir, **{"eu-contracts": {"kubernetes": {"namespace": "legal",
                                                           "service_account": "contracts"}}})
    roles = _declared_k8s_roles(catalog_dir)
    assert roles["aigw-prod-eu-contracts"]["bound_service_account_names"] == ["contracts"]
    assert roles["aigw-prod-eu-contracts"]["bound_service_account_namespaces"] == ["legal"]
    ra = roles["aigw-staging-research-assistant"]  # the defaults
    assert ra["bound_service_account_names"] == ["research-assistant"]
    assert ra["bound_service_account_namespaces"] == ["staging"]
    assert ra["token_policies"] == ["aigw-staging-research-assistant"]
    _edit(catalog_dir, **{"eu-contracts": {"kubernetes": {"namespace": "Not_A_Namespace"}}})
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_dir)
    assert any("services.eu-contracts.kubernetes.namespace" in str(p)
               for p in err.value.problems)


def _dummy_ca() -> str:
    """A throwaway self-signed CA certificate (PEM) standing in for the cluster's CA."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-cluster-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _k8s_roles(client: hvac.Client) -> dict[str, dict[str, Any]]:
    found = client.list("auth/kubernetes/role")
    return {name: client.read(f"auth/kubernetes/role/{name}")["data"]
            for name in (found["data"]["keys"] if found else [])}


@pytest.mark.integration
@pytest.mark.slow
def test_apply_declares_exactly_the_kubernetes_roles(rig: StackRig, catalog_dir: Path) -> None:
    """Roles exist in a real OpenBao, match the catalog, and follow its changes."""
    client = rig.client()
    rig.apply(catalog_dir)
    assert client.sys.list_auth_methods()["data"]["kubernetes/"]["type"] == "kubernetes"
    # The cluster's own config (an operator's): a dummy API server is enough to store roles.
    client.write("auth/kubernetes/config", kubernetes_host="https://127.0.0.1:6443",
                 kubernetes_ca_cert=_dummy_ca(), disable_local_ca_jwt=True)
    cat = load_catalog(catalog_dir).catalog
    want = {role_name(d.environment, d.service) for d in deployments(cat)
            if any(o in K8S_OUTPUTS for o in cat.services[d.service].outputs)}
    live = _k8s_roles(client)
    assert set(live) == want == set(_declared_k8s_roles(catalog_dir))
    for name, params in _declared_k8s_roles(catalog_dir).items():
        assert {k: live[name][k] for k in params} == params, name
    assert not any(r.changed for r in rig.plan(catalog_dir, refresh=True))

    _edit(catalog_dir, **{"eu-contracts": {"outputs": ["aigw-client", "env"]},
                          "research-assistant": {"kubernetes": {"namespace": "research"}}})
    rig.apply(catalog_dir)
    live = _k8s_roles(client)
    assert set(live) == {"aigw-prod-research-assistant", "aigw-staging-research-assistant"}
    assert live["aigw-prod-research-assistant"]["bound_service_account_namespaces"] == [
        "research"]
    assert client.read("auth/kubernetes/config")["data"]["kubernetes_host"]  # left alone
