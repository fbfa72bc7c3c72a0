"""The desired state computed from the catalog: names, paths, exact grants (no engine)."""

from __future__ import annotations

import re

import pytest

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments
from aigw.errors import UsageError
from aigw.render import render_all
from aigw.stack import metadata_path, policy_name, role_name, secret_path
from aigw.stack.auth import ROLE_BUILDERS, AuthConfig, role_params
from aigw.stack.spec import config_secret_path, environment_spec
from tests.stack.conftest import EXAMPLES

CATALOG = load_catalog(EXAMPLES).catalog


def test_names_and_paths_follow_the_architecture_contract() -> None:
    dep = deployments(CATALOG, env="prod", service="support-bot")[0]
    ref = dep.slots[0]
    assert policy_name("prod", "support-bot") == dep.policy_name == "aigw-prod-support-bot"
    assert role_name("prod", "support-bot") == "aigw-prod-support-bot"
    assert secret_path(CATALOG, "prod", ref) == f"aigw/data/prod/providers/{ref.provider}/{ref.slot}"
    assert metadata_path(CATALOG, "prod", ref) == f"aigw/metadata/prod/providers/{ref.provider}/{ref.slot}"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_policy_grants_read_on_exactly_the_slots_of_its_routes(env: str) -> None:
    spec = environment_spec(CATALOG, env)
    deps = {d.service: d for d in deployments(CATALOG, env=env)}
    assert [p.service for p in spec.policies] == sorted(deps)
    for pol in spec.policies:
        want = sorted([*(secret_path(CATALOG, env, ref) for ref in deps[pol.service].slots),
                       config_secret_path(CATALOG, env, pol.service)])  # its own config
        assert list(pol.read_paths) == want
        granted = re.findall(r'^path "([^"]+)" \{\n  capabilities = \["read"\]', pol.text, re.M)
        assert granted == [*want, "auth/token/lookup-self"]
        assert pol.text.endswith("}\n") and "sys/" not in pol.text


def test_only_slots_some_deployment_reads_get_metadata() -> None:
    spec = environment_spec(CATALOG, "prod")
    paths = {s.path for s in spec.slots}
    assert "prod/providers/deepseek/svc-support-bot" in paths  # keys: per-service
    assert "prod/providers/openai/batch" in paths  # a declared slot a prod route uses
    assert "prod/providers/deepseek/svc-nightly-batch" not in paths  # staging only
    # Every prod reader of deepseek has per-service keys: nobody reads deepseek/default.
    assert "prod/providers/deepseek/default" not in paths
    assert "staging/providers/deepseek/default" in {s.path for s in
                                                   environment_spec(CATALOG, "staging").slots}
    read = {p.removeprefix("aigw/data/") for pol in spec.policies for p in pol.read_paths}
    configs = {c.path for c in spec.configs}  # each service also reads its own live config
    assert paths == read - configs  # no slot that no policy grants
    slot = next(s for s in spec.slots if s.path == "prod/providers/bedrock-eu/svc-eu-contracts")
    assert slot.custom_metadata == {"provider": "bedrock-eu", "slot": "svc-eu-contracts",
                                    "driver": "aws-iam", "max_age": "1w"}


def test_roles_are_bound_to_their_policy_without_the_default_policy() -> None:
    spec = environment_spec(CATALOG, "staging")
    for role, pol in zip(spec.roles, spec.policies, strict=True):
        assert role.name == role.policy == pol.name
        assert role.method == "approle" and role.mount == "approle"
        assert role.params["token_policies"] == [pol.name]
        assert role.params["token_no_default_policy"] is True


def test_the_spec_is_deterministic() -> None:
    assert environment_spec(CATALOG, "prod") == environment_spec(CATALOG, "prod")


def test_unknown_environment_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown environment 'qa'"):
        environment_spec(CATALOG, "qa")


@pytest.mark.parametrize("method", sorted(ROLE_BUILDERS))
def test_every_auth_method_binds_the_policy(method: str) -> None:
    params = role_params(AuthConfig(method=method), "svc", "prod", "aigw-prod-svc")
    assert params["token_policies"] == ["aigw-prod-svc"]


def test_unknown_auth_method_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown auth method"):
        role_params(AuthConfig(method="ldap"), "svc", "prod", "p")


def test_names_that_would_collide_in_openbao_are_refused() -> None:
    from aigw.catalog.models import Catalog

    doc = {"environments": {"eu": {}, "eu-west": {}},
           "providers": {"p": {"api": "openai", "region": "eu"}},
           "models": {"m": {"routes": [{"provider": "p", "model": "x"}]}},
           "services": {"west-app": {"environments": ["eu"], "models": ["m"]},
                        "app": {"environments": ["eu-west"], "models": ["m"]}}}
    cat = Catalog.model_validate(doc)
    with pytest.raises(UsageError, match="would share the OpenBao policy and role "
                                         "'aigw-eu-west-app'"):
        environment_spec(cat, "eu")


def test_the_stack_enables_approle_where_the_rendered_agent_logs_in() -> None:
    """The AppRole mount the stack enables and binds every role under is the one the
    rendered bao-agent.hcl logs in at (its `mount_path`)."""
    spec = environment_spec(CATALOG, "prod")
    files = render_all(load_catalog(EXAMPLES), env="prod")
    hcl = next(data.decode() for path, data in sorted(files.items())
               if path.endswith("/bao-agent.hcl"))
    mounts = set(re.findall(r'mount_path\s*=\s*"auth/([^"]+)"', hcl))
    assert mounts == {spec.auth.path}
    assert {role.mount for role in spec.roles} == {spec.auth.path}
