"""CI logins declared by the stack: a JWT method, one role and one least-privilege policy per job.

A test RSA key pair, generated here, stands in for GitHub's OIDC signing key:
the catalog's `ci.jwt_validation_pubkeys` carries its public half (in real use
OpenBao discovers GitHub's keys at https://token.actions.githubusercontent.com),
and tokens are signed with joserfc carrying the claims GitHub puts in a job's
token (`sub`, `repository`, `environment`, `ref`, `aud`, `iss`). Everything else
is real: OpenBao, the Pulumi engine, `aigw plan`/`apply` and a rotation (against
the OpenAI admin API stand-in, faithful enough for aigw's openai-admin driver).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from testing.openai_admin import OpenAIAdminServer

from aigw.catalog import load_catalog
from aigw.catalog.models import GITHUB_OIDC_ISSUER
from aigw.errors import AigwError, CatalogError
from aigw.rotation.progress import Timing
from aigw.rotation.runner import RotateOptions, rotate_keys
from aigw.scaffold import scaffold_files
from aigw.stack import run
from aigw.stack.spec import ci_apply_role, ci_plan_role, ci_rotate_role, environment_spec
from aigw.vault import VaultSettings
from tests.stack.conftest import EXAMPLES, StackRig

REPO = "acme/llm-catalog"
ADMIN_KEY = "admin-test-key"
PROJECT = "proj_example"
ROLES = (ci_plan_role(), ci_apply_role("staging"), ci_apply_role("prod"), ci_rotate_role())


@pytest.fixture(scope="module")
def signing_key() -> tuple[RSAKey, str]:
    """A fresh RSA key pair: (the private JWK that signs, the public PEM OpenBao checks)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key = RSAKey.import_key(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return key, pem.decode()


def github_token(key: RSAKey, *, repository: str = REPO, environment: str | None = None,
                 ref: str = "refs/heads/main", audience: str = "aigw-ci",
                 scheduled: bool = False) -> str:
    """A token shaped like the one GitHub gives a job (an environment job, a PR job, or
    with SCHEDULED a job of branch REF outside any environment)."""
    now = int(time.time())
    sub = (f"repo:{repository}:environment:{environment}" if environment
           else f"repo:{repository}:ref:{ref}" if scheduled
           else f"repo:{repository}:pull_request")
    claims: dict[str, Any] = {"iss": GITHUB_OIDC_ISSUER, "aud": audience, "sub": sub,
                              "repository": repository, "ref": ref, "iat": now,
                              "nbf": now - 5, "exp": now + 300,
                              "event_name": "push" if environment else "pull_request"}
    if environment:
        claims["environment"] = environment
    return jwt.encode({"alg": "RS256"}, claims, key)


def login(addr: str, role: str, token: str) -> hvac.Client:
    """`auth/jwt/login` as the setup-aigw action does it; the client holds the job's token."""
    client = hvac.Client(url=addr, timeout=5)
    resp = client.adapter.post("/v1/auth/jwt/login", json={"role": role, "jwt": token})
    client.token = resp["auth"]["client_token"]
    return client


@pytest.fixture
def admin_server() -> Iterator[OpenAIAdminServer]:
    with OpenAIAdminServer(ADMIN_KEY) as server:
        yield server


@pytest.fixture
def ci_catalog(catalog_dir: Path, signing_key: tuple[RSAKey, str],
               admin_server: OpenAIAdminServer) -> Path:
    """examples/ with `ci:` settings (the test key) and openai-admin pointed at the stand-in."""
    path = catalog_dir / "aigw.yaml"
    data = yaml.safe_load(path.read_text())
    data["ci"] = {"provider": "github", "repository": REPO, "audience": "aigw-ci",
                  "jwt_validation_pubkeys": [signing_key[1]]}
    openai = data["providers"]["openai"]
    openai["base_url"] = admin_server.url
    openai["rotation"].update(grace="1s", params={
        "project_id": PROJECT, "admin_base_url": admin_server.url, "verify_attempts": 2,
        "verify_delay": 0.05})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return catalog_dir


def job_token(key: RSAKey, role: str) -> str:
    """The token of the job each role is for (docs/ci.md)."""
    if role == ci_plan_role():
        return github_token(key)
    if role == ci_rotate_role():
        return github_token(key, environment="rotation")
    return github_token(key, environment=role.removeprefix("aigw-ci-apply-"))


@pytest.mark.integration
@pytest.mark.slow
def test_each_ci_role_logs_in_with_exactly_its_policy(
        rig: StackRig, ci_catalog: Path, signing_key: tuple[RSAKey, str]) -> None:
    rig.apply(ci_catalog)
    for role in ROLES:
        client = login(rig.bao.addr, role, job_token(signing_key[0], role))
        me = client.auth.token.lookup_self()["data"]
        assert me["policies"] == [role]  # no `default` policy either
        assert 0 < me["ttl"] <= 900
    assert not any(r.changed for r in rig.plan(ci_catalog, refresh=True))  # read back equal


@pytest.mark.integration
@pytest.mark.slow
def test_a_token_of_another_repository_environment_branch_or_audience_is_refused(
        rig: StackRig, ci_catalog: Path, signing_key: tuple[RSAKey, str]) -> None:
    rig.apply(ci_catalog)
    key = signing_key[0]
    other_key = RSAKey.generate_key(2048)
    refused = [
        (ci_plan_role(), github_token(key, repository="acme/other")),
        (ci_plan_role(), github_token(key, environment="prod")),  # not a PR job
        (ci_plan_role(), github_token(key, scheduled=True, ref="refs/heads/feature")),
        (ci_apply_role("prod"), github_token(key, environment="staging")),
        (ci_apply_role("prod"), github_token(key)),  # a PR job
        (ci_apply_role("prod"), github_token(key, repository="evil/fork", environment="prod")),
        (ci_apply_role("prod"), github_token(key, environment="prod",
                                             ref="refs/heads/feature")),
        (ci_apply_role("prod"), github_token(key, environment="prod", audience="sts")),
        (ci_apply_role("prod"), github_token(other_key, environment="prod")),  # not signed by CI
        (ci_rotate_role(), github_token(key, environment="prod")),
    ]
    for role, token in refused:
        with pytest.raises(hvac.exceptions.VaultError):
            login(rig.bao.addr, role, token)
    assert login(rig.bao.addr, ci_apply_role("prod"), github_token(key, environment="prod"))
    # the scheduled drift check (aigw-drift.yml) runs on the default branch as aigw-ci-plan
    assert login(rig.bao.addr, ci_plan_role(), github_token(key, scheduled=True))


def _seed(admin: hvac.Client, admin_server: OpenAIAdminServer) -> None:
    """A value in one slot of each environment, and rotation bookkeeping in each."""
    for env in ("staging", "prod"):
        _, value = admin_server.create_account(PROJECT, f"legacy-{env}")
        admin.secrets.kv.v2.create_or_update_secret(
            f"{env}/providers/openai/default", {"api_key": value}, cas=0, mount_point="aigw")
        admin.secrets.kv.v2.create_or_update_secret(
            f"{env}/providers/openai/eval", {"api_key": "sk-eval-seed"}, cas=0,
            mount_point="aigw")
        admin.secrets.kv.v2.create_or_update_secret(
            f"{env}/_aigw/journal/x/y", {"step": "done"}, cas=0, mount_point="aigw")


def _ok(client: hvac.Client, method: str, path: str, body: dict[str, Any] | None) -> bool:
    """True when OpenBao allows the request (403 is the only refusal we expect)."""
    try:
        call = getattr(client.adapter, method)
        call(f"/v1/{path}", json=body) if body is not None else call(f"/v1/{path}")
    except hvac.exceptions.Forbidden:
        return False
    return True


POLICY = {"policy": 'path "aigw/data/*" { capabilities = ["read"] }'}
PLAN, STAGING, PROD, ROTATE = ROLES
# (what, method, path, body, roles allowed). Each role is tried on every row.
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, set[str]]] = [
    ("read a staging key", "get", "aigw/data/staging/providers/openai/default", None, {ROTATE}),
    ("read a prod key", "get", "aigw/data/prod/providers/openai/default", None, {ROTATE}),
    ("write a prod key", "post", "aigw/data/prod/providers/openai/default",
     {"data": {"api_key": "sk-matrix"}, "options": {"cas": 1}}, {ROTATE}),
    ("read a staging eval key", "get", "aigw/data/staging/providers/openai/eval", None,
     {PLAN, ROTATE}),
    ("write a staging eval key", "post", "aigw/data/staging/providers/openai/eval",
     {"data": {"api_key": "sk-matrix"}, "options": {"cas": 1}}, {ROTATE}),
    ("read staging slot metadata", "get", "aigw/metadata/staging/providers/openai/default",
     None, {PLAN, STAGING, ROTATE}),
    ("read prod slot metadata", "get", "aigw/metadata/prod/providers/openai/default", None,
     {PLAN, PROD, ROTATE}),
    ("list staging slot metadata", "list", "aigw/detailed-metadata/staging/providers/openai",
     None, {PLAN, STAGING}),
    ("list prod configs' metadata", "list", "aigw/detailed-metadata/prod/_aigw/config", None,
     {PLAN, PROD}),
    ("write staging slot metadata", "post", "aigw/metadata/staging/providers/openai/batch",
     {"custom_metadata": {"m": "1"}}, {STAGING}),
    ("write prod slot metadata", "post", "aigw/metadata/prod/providers/openai/batch",
     {"custom_metadata": {"m": "1"}}, {PROD}),
    ("write a staging policy", "post", "sys/policies/acl/aigw-staging-matrix", POLICY,
     {STAGING}),
    ("write a prod policy", "post", "sys/policies/acl/aigw-prod-matrix", POLICY, {PROD}),
    ("read a prod policy", "get", "sys/policies/acl/aigw-prod-support-bot", None, {PLAN, PROD}),
    ("write a CI policy", "post", f"sys/policies/acl/{ROTATE}", POLICY, set()),
    ("delete a CI policy", "delete", f"sys/policies/acl/{PROD}", None, set()),
    ("write a staging service role", "post", "auth/approle/role/aigw-staging-matrix",
     {"token_policies": ["aigw-staging-matrix"]}, {STAGING}),
    ("write a prod service role", "post", "auth/approle/role/aigw-prod-matrix",
     {"token_policies": ["aigw-prod-matrix"]}, {PROD}),
    ("read a CI role", "get", f"auth/jwt/role/{PLAN}", None, {PLAN, STAGING, PROD}),
    ("write a CI role", "post", f"auth/jwt/role/{ROTATE}",
     {"bound_claims": {"sub": "repo:evil/x:pull_request"}}, set()),
    ("write the JWT config", "post", "auth/jwt/config", {"bound_issuer": "https://evil"},
     set()),
    ("write staging bookkeeping", "post", "aigw/data/staging/_aigw/journal/x/z",
     {"data": {"step": "x"}, "options": {"cas": 0}}, {ROTATE}),
    ("read prod bookkeeping", "get", "aigw/data/prod/_aigw/journal/x/y", None, {ROTATE}),
    ("enable a mount", "post", "sys/mounts/evil", {"type": "kv"}, set()),
    ("enable an auth method", "post", "sys/auth/evil", {"type": "userpass"}, set()),
    ("list every policy", "list", "sys/policies/acl", None, set()),
    ("read the audit devices", "get", "sys/audit", None, set()),
]


@pytest.mark.integration
@pytest.mark.slow
def test_each_ci_role_does_its_job(rig: StackRig, ci_catalog: Path,
                                   signing_key: tuple[RSAKey, str],
                                   admin_server: OpenAIAdminServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The real jobs, each with its CI token: plan (PR), apply per environment, rotate."""
    rig.apply(ci_catalog)
    admin = rig.client()
    _seed(admin, admin_server)
    key = signing_key[0]

    def settings(role: str) -> VaultSettings:
        return VaultSettings(addr=rig.bao.addr,
                             token=str(login(rig.bao.addr, role, job_token(key, role)).token))

    # A catalog change: nightly-batch gains prod and loses a model in staging.
    path = ci_catalog / "aigw.yaml"
    data = yaml.safe_load(path.read_text())
    data["services"]["nightly-batch"]["environments"] = ["staging", "prod"]
    data["services"]["research-assistant"]["models"] = ["gpt-4o"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    def as_job(op: Any, role: str, env: str | None = None, **kw: Any) -> Any:
        return op(ci_catalog, env, echo=rig.lines.append, vault=settings(role),
                  engine=rig.engine, **kw)

    plans = as_job(run.plan, PLAN, refresh=True)
    assert [r.changed for r in plans] == [True, True]  # the PR job sees both environments
    with pytest.raises(AigwError):  # the staging job cannot apply prod
        as_job(run.apply, STAGING, "prod", yes=True)
    as_job(run.apply, STAGING, "staging", yes=True)
    as_job(run.apply, PROD, "prod", yes=True)
    assert not any(r.changed for r in rig.plan(ci_catalog, refresh=True))
    assert admin.sys.read_policy("aigw-prod-nightly-batch")  # applied by the prod job

    monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)
    rotate = hvac.Client(url=rig.bao.addr, token=settings(ROTATE).token)
    old = admin.secrets.kv.v2.read_secret("staging/providers/openai/default",
                                          mount_point="aigw")["data"]["data"]["api_key"]
    target = {"env": "staging", "provider": "openai", "slot": "default"}
    timing = Timing(quiet=0.2, poll=0.05, wait=20)
    first = rotate_keys(load_catalog(ci_catalog), rotate, RotateOptions(**target),
                        timing=timing)
    assert [o.state for o in first.outcomes] == ["promoted"], first.outcomes  # new key in
    done = rotate_keys(load_catalog(ci_catalog), rotate, RotateOptions(**target, finish=True),
                       timing=timing)  # what the scheduled job's `--finish` step does
    assert [o.status for o in done.outcomes] == ["done"], done.outcomes
    new = admin.secrets.kv.v2.read_secret("staging/providers/openai/default",
                                          mount_point="aigw")["data"]["data"]["api_key"]
    assert new != old and admin_server.valid(new) and not admin_server.valid(old)


@pytest.mark.integration
@pytest.mark.slow
def test_each_ci_role_can_do_nothing_else(rig: StackRig, ci_catalog: Path,
                                          signing_key: tuple[RSAKey, str],
                                          admin_server: OpenAIAdminServer) -> None:
    rig.apply(ci_catalog)
    _seed(rig.client(), admin_server)
    seen = {}
    for role in ROLES:
        client = login(rig.bao.addr, role, job_token(signing_key[0], role))
        for what, method, path, body, allowed in MATRIX:
            seen[(role, what)] = _ok(client, method, path, body)
            assert seen[(role, what)] == (role in allowed), (role, what)
    assert len(seen) == len(ROLES) * len(MATRIX)


def _jobs_and_roles(files: dict[str, str]) -> list[tuple[str | None, str]]:
    """(the job's GitHub environment, the vault-role it logs in as) of every scaffold job."""
    out = []
    for rel, text in files.items():
        if not rel.startswith(".github/workflows/"):
            continue
        for job in yaml.safe_load(text)["jobs"].values():
            for step in job.get("steps", []):
                role = (step.get("with") or {}).get("vault-role")
                if role:
                    named = re.findall(r"aigw-ci-[a-z0-9-]+", role)
                    assert len(named) == 1, role
                    out.append((job.get("environment"), named[0]))
    return out


def test_scaffolded_workflows_log_in_as_the_roles_the_stack_declares(tmp_path: Path) -> None:
    files = scaffold_files("aigw[cli]==0.1.0")
    catalog = yaml.safe_load(files["aigw.yaml"])
    catalog["ci"] = {"repository": REPO}
    (tmp_path / "aigw.yaml").write_text(yaml.safe_dump(catalog))
    cat = load_catalog(tmp_path).catalog
    declared: dict[str, dict[str, Any]] = {}
    for env in cat.environments:
        ci = environment_spec(cat, env).ci
        assert ci is not None
        declared.update({r.name: dict(r.params) for r in ci.roles})
    used = _jobs_and_roles(files)
    assert {role for _, role in used} == set(declared) == {
        ci_plan_role(), ci_apply_role("staging"), ci_apply_role("prod"), ci_rotate_role()}
    for environment, role in used:  # each job runs where its role's claims expect it
        claims = declared[role]["bound_claims"]
        assert claims.get("environment") == environment, (role, environment)
        assert claims["repository"] == REPO


@pytest.mark.parametrize(("ci", "where", "message"), [
    ({"repository": "no-slash"}, "ci.repository", "should match pattern"),
    ({"repository": REPO, "provider": "gitlab"}, "ci.provider", "is not allowed"),
    ({"repo": REPO}, "ci.repo", "unknown field"),
])
def test_bad_ci_settings_are_located(tmp_path: Path, ci: dict[str, Any], where: str,
                                     message: str) -> None:
    text = (EXAMPLES / "aigw.yaml").read_text() + "\nci:\n" + "".join(
        f"  {k}: {v}\n" for k, v in ci.items())
    (tmp_path / "aigw.yaml").write_text(text)
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path)
    field = where.split(".")[-1]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(f"  {field}:"))
    shown = [str(p) for p in err.value.problems]
    assert any(where in p and message in p.lower() and f"aigw.yaml:{line}" in p
               for p in shown), shown


def test_an_environment_named_like_the_ci_roles_is_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "aigw.yaml").read_text().replace("  prod:\n", "  ci-apply:\n", 1)
    text = text.replace("[staging, prod]", "[staging, ci-apply]")
    (tmp_path / "aigw.yaml").write_text(text + f"\nci: {{repository: {REPO}}}\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path)
    assert any("environments.ci-apply" in str(p) and "aigw-ci-" in str(p)
               for p in err.value.problems)
