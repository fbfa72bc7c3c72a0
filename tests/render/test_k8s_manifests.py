"""The Kubernetes outputs are complete manifests a cluster takes as written (offline checks).

`k8s-injector.yaml`: a ServiceAccount and a Deployment carrying the injector's
annotations; `k8s-csi.yaml`: a SecretProviderClass, a ServiceAccount and a Deployment
mounting it. Every document is validated as written (tests/render/k8s_checks.py), and
a document broken on purpose fails each check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw.catalog import load_catalog
from aigw.outputs import K8S_APP_UID
from aigw.render import render_all
from tests.render import k8s_checks
from tests.render.k8s_checks import ManifestError, check_file, documents

EXAMPLES = Path(__file__).parents[2] / "examples"
ADDRESS = "https://openbao.example.internal:8200"


def _rendered(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {rel: documents(blob) for rel, blob in render_all(load_catalog(folder)).items()
            if Path(rel).name.startswith("k8s-")}


@pytest.fixture
def variant(tmp_path: Path) -> Path:
    """The examples with an OpenBao address and eu-contracts' own namespace and account."""
    data = yaml.safe_load((EXAMPLES / "aigw.yaml").read_text())
    for env in data["environments"].values():
        env["openbao_address"] = ADDRESS
    data["services"]["eu-contracts"]["kubernetes"] = {"namespace": "legal",
                                                      "service_account": "contracts"}
    (tmp_path / "aigw.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


def test_every_rendered_document_validates(variant: Path) -> None:
    for folder in (EXAMPLES, variant):
        rendered = _rendered(folder)
        kinds = {}
        for rel, docs in rendered.items():
            kinds[Path(rel).name] = [d["kind"] for d in docs]
            check_file(docs, rel)
        assert kinds == {"k8s-injector.yaml": ["ServiceAccount", "Deployment"],
                         "k8s-csi.yaml": ["SecretProviderClass", "ServiceAccount", "Deployment"]}
        assert len(rendered) == 4  # both outputs, both environments


def test_identity_and_address_come_from_the_catalog(variant: Path) -> None:
    """Namespace and ServiceAccount are the ones the Kubernetes-auth role is bound to;
    `openbao_address` is the CSI provider's vaultAddress and the injector's server."""
    rendered = _rendered(variant)
    csi = _by_kind(rendered["prod/eu-contracts/k8s-csi.yaml"])
    assert {d["metadata"]["namespace"] for d in csi.values()} == {"legal"}
    assert csi["ServiceAccount"]["metadata"]["name"] == "contracts"
    assert csi["SecretProviderClass"]["spec"]["parameters"]["vaultAddress"] == ADDRESS
    inj = _by_kind(rendered["staging/research-assistant/k8s-injector.yaml"])
    assert {d["metadata"]["namespace"] for d in inj.values()} == {"staging"}
    assert inj["ServiceAccount"]["metadata"]["name"] == "research-assistant"
    annotations = inj["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/service"] == ADDRESS
    plain = _by_kind(_rendered(EXAMPLES)["prod/research-assistant/k8s-injector.yaml"])
    assert "vault.hashicorp.com/service" not in \
        plain["Deployment"]["spec"]["template"]["metadata"]["annotations"]


def test_the_app_container_user_can_read_the_files() -> None:
    """Injector: its agent runs as the app's (non-root) uid and writes keys 0600, so they
    are the app's alone. CSI: the driver's files keep their default 0644 (the driver
    writes them as root) in a volume only this pod mounts, read-only, at key_dir."""
    rendered = _rendered(EXAMPLES)
    inj = _by_kind(rendered["prod/research-assistant/k8s-injector.yaml"])["Deployment"]
    annotations = inj["spec"]["template"]["metadata"]["annotations"]
    app = inj["spec"]["template"]["spec"]["containers"][0]
    assert annotations[k8s_checks.SAME_USER] == "true"
    assert app["securityContext"]["runAsUser"] == K8S_APP_UID > 0
    assert app["securityContext"]["runAsNonRoot"] is True
    perms = {k.rsplit("-", 1)[-1]: v for k, v in annotations.items() if "-inject-perms-" in k}
    keys = {k: v for k, v in perms.items() if k.endswith(".key")}
    assert keys and set(keys.values()) == {"0600"}
    assert annotations["vault.hashicorp.com/secret-volume-path"] == "/run/secrets/aigw"
    csi = _by_kind(rendered["prod/eu-contracts/k8s-csi.yaml"])
    objects = yaml.safe_load(csi["SecretProviderClass"]["spec"]["parameters"]["objects"])
    assert not any("filePermission" in o for o in objects)  # the driver's 0644
    app = csi["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert app["volumeMounts"] == [{"name": "aigw-keys", "mountPath": "/run/secrets/aigw",
                                    "readOnly": True}]
    assert app["securityContext"]["runAsNonRoot"] is True
    assert {"name": "AIGW_CLIENT_CONFIG", "value": "/run/secrets/aigw/aigw-client.json"} \
        in app["env"]


def _deployment(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return docs["Deployment"]["spec"]["template"]


# (file, what to break, the check that must catch it)
Break = Callable[[dict[str, dict[str, Any]]], None]
BREAKS: dict[str, tuple[str, Break, str]] = {
    "deployment-field-type": ("k8s-injector.yaml",
                              lambda d: d["Deployment"]["spec"].update(replicas="1"),
                              "Deployment schema"),
    "deployment-unknown-field": ("k8s-csi.yaml",
                                 lambda d: _deployment(d)["spec"].update(volume=[]),
                                 "Deployment schema"),
    "service-account-unknown-field": ("k8s-injector.yaml",
                                      lambda d: d["ServiceAccount"].update(automount=True),
                                      "ServiceAccount schema"),
    "spc-unknown-field": ("k8s-csi.yaml", lambda d: d["SecretProviderClass"]["spec"].update(
        parameter=d["SecretProviderClass"]["spec"].pop("parameters")),
        "SecretProviderClass schema"),
    "spc-parameter-not-string": ("k8s-csi.yaml", lambda d: d["SecretProviderClass"]["spec"][
        "parameters"].update(objects=[{"objectName": "x"}]), "SecretProviderClass schema"),
    "spc-bad-name": ("k8s-csi.yaml",
                     lambda d: d["SecretProviderClass"]["metadata"].update(name="Aigw_Prod"),
                     "not a DNS subdomain"),
    "spc-unknown-vault-parameter": ("k8s-csi.yaml", lambda d: d["SecretProviderClass"][
        "spec"]["parameters"].update(vaultRole="x"), "does not read"),
    "spc-unknown-object-field": ("k8s-csi.yaml", lambda d: d["SecretProviderClass"][
        "spec"]["parameters"].update(objects="- objectName: a\n  secretPath: b\n  key: c\n"),
        "not one the Vault provider reads"),
    "annotation-key-too-long": ("k8s-injector.yaml", lambda d: _deployment(d)["metadata"][
        "annotations"].update({"vault.hashicorp.com/" + "x" * 64: "1"}),
        "not a qualified name"),
    "selector-mismatch": ("k8s-injector.yaml", lambda d: d["Deployment"]["spec"]["selector"][
        "matchLabels"].update({"app.kubernetes.io/name": "other"}), "selector"),
    "mount-without-volume": ("k8s-csi.yaml",
                             lambda d: _deployment(d)["spec"].update(volumes=[]),
                             "names no volume"),
    "same-user-as-root": ("k8s-injector.yaml", lambda d: _deployment(d)["spec"]["containers"][
        0]["securityContext"].update(runAsUser=0), "runAsUser"),
    "other-service-account": ("k8s-injector.yaml",
                              lambda d: d["ServiceAccount"]["metadata"].update(name="other"),
                              "ServiceAccount"),
    "csi-volume-names-other-class": ("k8s-csi.yaml", lambda d: _deployment(d)["spec"][
        "volumes"][0]["csi"]["volumeAttributes"].update(secretProviderClass="other"),
        "SecretProviderClass"),
    "clashes-with-injector-volume": ("k8s-injector.yaml", lambda d: _deployment(d)["spec"].update(
        volumes=[{"name": "vault-secrets", "emptyDir": {}}]), "share a name"),
    "clashes-with-injector-mount": ("k8s-injector.yaml", lambda d: (
        _deployment(d)["spec"].update(volumes=[{"name": "own", "emptyDir": {}}]),
        _deployment(d)["spec"]["containers"][0].update(
            volumeMounts=[{"name": "own", "mountPath": "/run/secrets/aigw"}])),
        "share a path"),
    "bad-namespace": ("k8s-csi.yaml",
                      lambda d: [doc["metadata"].update(namespace="Prod") for doc in d.values()],
                      "not a DNS label"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_broken_document_fails_its_check(name: str) -> None:
    file, breaks, caught_by = BREAKS[name]
    service = "eu-contracts" if file == "k8s-csi.yaml" else "research-assistant"
    docs = _rendered(EXAMPLES)[f"prod/{service}/{file}"]
    check_file(docs, file)  # as rendered: valid
    broken = [k8s_checks.mutated(d) for d in docs]
    breaks(_by_kind(broken))
    with pytest.raises(ManifestError) as caught:
        check_file(broken, file)
    assert caught_by in str(caught.value)
