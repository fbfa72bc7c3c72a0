"""`aigw eval` end to end against stand-in providers (testing/eval_provider.py).

The providers are stand-ins: an OpenAI-compatible server whose `bad-model`
(the model the PR switches alias `qa` to) answers worse on purpose, and whose
`judge-model` answers the llm-rubric judge's prompts. Calls go through the real
aigw.client transport under the official openai SDK; git and OPA are real.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from testing.bao import BaoDevServer
from testing.eval_provider import ScriptedProvider

from aigw.commands.output import SCHEMAS
from aigw.evals.report import format_markdown
from tests.evals.conftest import EVAL_KEY
from tests.governance.conftest import git
from tests.helpers import Result, run_cli

pytestmark = pytest.mark.integration


def _eval(capsys: pytest.CaptureFixture[str], keys: Path, *args: str) -> Result:
    return run_cli(capsys, "eval", ".", "--keys", str(keys), *args)


def _schema_errors(doc: dict[str, object]) -> list[str]:
    registry = Registry().with_resources(
        (r.id() or "", r) for r in (Resource.from_contents(json.loads(p.read_text()))
                                    for p in sorted(SCHEMAS.glob("*.json"))))
    schema = json.loads((SCHEMAS / "eval.v1.json").read_text())
    return [f"{list(e.absolute_path)}: {e.message}"
            for e in Draft202012Validator(schema, registry=registry).iter_errors(doc)]


def _secret_free(repo: Path, *texts: str) -> None:
    """The eval key is in no output, no results file, no cache entry."""
    for text in texts:
        assert EVAL_KEY not in text
    for path in (repo / ".aigw").rglob("*"):
        if path.is_file():
            assert EVAL_KEY.encode() not in path.read_bytes(), path


def test_eval_shows_the_drop_and_a_rerun_calls_no_provider(
        eval_repo: Path, keys: Path, provider: ScriptedProvider,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = _eval(capsys, keys)
    assert first.code == 0, first
    assert "qa · set capitals (6 cases)" in first.out
    assert "below-floor: score 0.54 is below the floor 0.70" in first.out
    assert "  regressed capitals#3 (Italy): equals: expected exactly 'Rome'" in first.out
    score = next(line for line in first.out.splitlines() if line.strip().startswith("score"))
    assert score.split()[1:] == ["1.00", "0.54", "-0.46"]
    assert provider.model_calls["good-model"] == 6 and provider.model_calls["bad-model"] == 6
    calls = provider.total_calls

    doc = json.loads((eval_repo / ".aigw" / "eval-results.json").read_text())
    assert not _schema_errors(doc)
    qa = doc["aliases"][0]
    assert qa["routes"] == {"base": ["lab/good-model", "lab2/good-model"],
                            "head": ["lab/bad-model", "lab2/bad-model"]}
    assert qa["base"]["graders"]["equals"] == 1.0 and qa["head"]["graders"]["equals"] < 0.4
    # Tokens counted by the stand-in (words); cost = tokens x the catalog's prices (per
    # million: good-model 1.00 in / 2.00 out, bad-model 0.50 / 1.00 USD).
    assert qa["base"]["tokens"] == {"input": 66, "output": 6}
    assert qa["head"]["tokens"] == {"input": 66, "output": 18}
    assert (qa["base"]["cost"], qa["head"]["cost"]) == (0.000078, 0.000051)
    assert qa["head"]["currency"] == "USD"
    france = next(c for c in qa["cases"] if c["id"] == "capitals#1" and c["side"] == "base")
    assert (france["input_tokens"], france["output_tokens"], france["cost"]) == (11, 1, 0.000013)
    failed = [c for c in qa["cases"] if c["side"] == "head" and not c["passed"]]
    assert {c["id"] for c in failed} == {"capitals#3", "capitals#4", "capitals#5",
                                         "capitals#6"}

    second = _eval(capsys, keys, "--json")
    assert second.code == 0, second
    assert provider.total_calls == calls  # counted at the stand-in: no call at all
    rerun = json.loads(second.out)
    assert rerun["calls"]["provider"] == 0 and rerun["calls"]["cached"] == 16
    assert rerun["aliases"][0]["head"]["score"] == qa["head"]["score"]
    assert not _schema_errors(rerun)
    _secret_free(eval_repo, first.out, first.err, second.out, second.err)


def test_judge_grades_through_its_alias(eval_repo: Path, keys: Path,
                                        provider: ScriptedProvider,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval(capsys, keys).code == 0
    assert provider.model_calls.get("judge-model", 0) >= 3  # Paris, Madrid, "I am not sure."
    qa = json.loads((eval_repo / ".aigw" / "eval-results.json").read_text())["aliases"][0]
    rubric = {(c["id"], c["side"]): c["grades"].get("llm-rubric") for c in qa["cases"]}
    assert rubric[("capitals#4", "base")]["passed"] is True  # good-model said Madrid
    assert rubric[("capitals#4", "head")] == {"score": 0.0, "passed": False,
                                               "reason": "no capital named"}
    assert qa["base"]["graders"]["llm-rubric"] == 1.0 and qa["head"]["graders"]["llm-rubric"] == 0.5


def test_the_rule_denies_and_a_waiver_with_a_reason_lets_it_pass(
        eval_repo: Path, keys: Path, capsys: pytest.CaptureFixture[str], opa: Path) -> None:
    before = run_cli(capsys, "policy", "check", ".")
    assert before.code == 0 and "eval-regression" not in before.out  # no results: no verdict
    assert _eval(capsys, keys).code == 0
    denied = run_cli(capsys, "policy", "check", ".")
    assert denied.code == 1
    assert ("deny eval-regression: models.qa.eval: alias qa serves support-bot in production "
            "and its eval score fell from 1.00 to 0.54") in denied.out
    (eval_repo / "policies").mkdir()
    (eval_repo / "policies" / "waivers.yaml").write_text(
        "- rule: eval-regression\n  service: support-bot\n"
        "  reason: the new model is cheaper; support accepts the drop until PLAT-9\n")
    waived = run_cli(capsys, "policy", "check", ".")
    assert waived.code == 0, waived
    assert "waived eval-regression (support-bot): the new model is cheaper" in waived.out


def test_the_markdown_diff_carries_the_table(eval_repo: Path, keys: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             opa: Path) -> None:
    assert _eval(capsys, keys).code == 0
    md = run_cli(capsys, "diff", ".", "--format", "markdown", "--no-plan")
    assert md.code == 0
    assert "**Evals:** 1 alias(es)" in md.out
    assert "| score | 1.00 | 0.54 | -0.46 |" in md.out
    assert "| ↳ equals | 1.00 | 0.33 | -0.67 |" in md.out
    assert "| cost | 0.000078 USD | 0.000051 USD |  |" in md.out
    assert "4 case(s) that pass on the base and fail with this change" in md.out
    assert ("- `capitals#4 (Spain)`: equals: expected exactly 'Madrid'; icontains: missing "
            "'madrid'; llm-rubric: no capital named") in md.out
    # Results of other routes are not shown as this change's: the table goes, a note says so.
    (eval_repo / "aigw.yaml").write_text((eval_repo / "aigw.yaml").read_text()
                                         .replace("bad-model", "other-model"))
    stale = run_cli(capsys, "diff", ".", "--format", "markdown", "--no-plan")
    assert "**Evals:**" not in stale.out
    assert "eval results of qa are for other routes than this change's" in stale.out


def test_no_changed_alias_means_no_call(eval_repo: Path, keys: Path,
                                        provider: ScriptedProvider,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    git(eval_repo, "commit", "-qam", "switch")
    result = _eval(capsys, keys)
    assert result.code == 0
    assert "no alias with an eval set changed: nothing to evaluate" in result.out
    assert provider.total_calls == 0
    forced = _eval(capsys, keys, "--alias", "qa")  # asked for: base and head are the same
    assert "qa · set capitals" in forced.out and "ok: score 0.54 -> 0.54" not in forced.out
    # Identical requests are made once in a run, even when both sides ask at once...
    assert provider.model_calls == {"bad-model": 6, "judge-model": 2}
    provider.model_calls.clear()
    fresh = _eval(capsys, keys, "--alias", "qa", "--no-cache")  # ...without a cache too
    assert fresh.code == 0 and provider.model_calls == {"bad-model": 6, "judge-model": 2}


def test_a_failing_provider_is_counted_and_not_cached(eval_repo: Path, keys: Path,
                                                      provider: ScriptedProvider,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    provider.set_mode("500")
    result = _eval(capsys, keys, "--json")
    assert result.code == 0
    qa = json.loads(result.out)["aliases"][0]
    assert qa["head"]["failures"] == 6 and qa["head"]["score"] == 0.0
    assert "lab: http_500" in qa["cases"][0]["error"]
    provider.set_mode("ok")
    again = json.loads(_eval(capsys, keys, "--json").out)
    assert again["aliases"][0]["base"]["failures"] == 0  # retried, not served from a cache


def test_keys_never_come_from_argv_and_must_be_private(eval_repo: Path, keys: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (keys / "lab.eval.key").chmod(0o644)
    loose = _eval(capsys, keys)
    assert loose.code == 2 and "must not be readable by others" in loose.err
    (keys / "lab.eval.key").unlink()
    missing = _eval(capsys, keys)
    assert missing.code == 2 and "no eval key file lab.eval.key" in missing.err
    nowhere = run_cli(capsys, "eval", ".")
    assert nowhere.code == 2 and "no eval keys: pass --keys DIR" in nowhere.err


def test_concurrency_is_bounded(eval_repo: Path, keys: Path, provider: ScriptedProvider,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """At most --concurrency calls reach the stand-in at once (each answer waits a little,
    so the calls overlap whenever the runner lets them)."""
    answer = provider.answer

    def slow(model: str, messages: list[dict[str, object]]) -> str:
        import time

        time.sleep(0.05)
        return answer(model, messages)  # type: ignore[arg-type]

    provider.answer = slow  # type: ignore[assignment]
    assert _eval(capsys, keys, "--concurrency", "3").code == 0
    assert provider.max_in_flight == 3
    provider.max_in_flight = 0
    assert _eval(capsys, keys, "--no-cache", "--concurrency", "1").code == 0
    assert provider.max_in_flight == 1


def test_progress_bar_only_on_a_terminal(eval_repo: Path, keys: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from aigw.commands.eval import _Bar

    quiet = _eval(capsys, keys)
    assert "eval [" not in quiet.err  # stderr is not a terminal under pytest
    _Bar(True)(3, 3)
    assert capsys.readouterr().err == "\reval [##############################] 3/3\n"
    _Bar(False)(1, 3)
    assert capsys.readouterr().err == ""


def test_an_anthropic_family_alias_runs_through_the_anthropic_sdk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The Anthropic stand-in (testing/fake_anthropic.py) echoes the question; the case's
    system prompt goes in the Messages API's `system`, and usage is read from its answer."""
    from testing.fake_anthropic import FakeAnthropic

    with FakeAnthropic("claude", [EVAL_KEY]) as fake:
        (tmp_path / "evals").mkdir()
        (tmp_path / "aigw.yaml").write_text(
            "environments: {staging: {}}\nproviders:\n  anthropic: {api: anthropic, "
            f"base_url: '{fake.url}', region: eu, slots: [default, eval]}}\nmodels:\n"
            "  claude:\n    routes: [{provider: anthropic, model: claude-x}]\n"
            "    eval: {set: echo}\nservices:\n  s: {environments: [staging], "
            "models: [claude]}\n")
        (tmp_path / "evals" / "echo.yaml").write_text(
            "prompts: ['[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": "
            "\"user\", \"content\": \"Say {{word}}\"}]']\n"
            "tests:\n  - vars: {word: hello}\n    assert: [{type: contains, value: "
            "'echo: Say hello'}]\n")
        keys = tmp_path / "k"
        keys.mkdir()
        (keys / "anthropic.eval.key").write_text(EVAL_KEY)
        (keys / "anthropic.eval.key").chmod(0o600)
        monkeypatch.chdir(tmp_path)
        result = run_cli(capsys, "eval", ".", "--keys", str(keys), "--json")
        assert result.code == 0, result.err
        claude = json.loads(result.out)["aliases"][0]
        assert claude["base"] is None and claude["verdict"]["status"] == "new"
        assert claude["head"]["score"] == 1.0, claude["cases"]
        assert claude["cases"][0]["route"] == "anthropic/claude-x"
        assert claude["head"]["tokens"]["input"] > 0
        assert claude["head"]["cost"] is None
        assert claude["cases"][0]["cost"] is None  # the model has no price: no cost, not 0
        assert fake.last_request is not None and fake.last_request["system"] == "Be brief."


def test_keys_from_the_eval_slots_in_openbao(eval_repo: Path, provider: ScriptedProvider,
                                             bao: BaoDevServer, vault_mount: str,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented flow on a real OpenBao: `aigw keys put lab/eval` (stdin), then
    `aigw eval --env staging` reads the `eval` slots; the key is never printed."""
    text = (eval_repo / "aigw.yaml").read_text()
    (eval_repo / "aigw.yaml").write_text(text.replace(
        "environments: {staging: {}, prod: {}}",
        f"environments: {{staging: {{mount: {vault_mount}}}, prod: {{mount: {vault_mount}}}}}"))
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    outputs = []
    for p in ("lab", "lab2"):
        monkeypatch.setattr("sys.stdin", io.StringIO(EVAL_KEY + "\n"))
        put = run_cli(capsys, "keys", "put", f"{p}/eval", "--env", "staging")
        assert put.code == 0, put.err
        outputs += [put.out, put.err]
    result = run_cli(capsys, "eval", ".", "--env", "staging")
    assert result.code == 0, result.err
    assert "below-floor: score 0.54" in result.out
    assert provider.model_calls["bad-model"] == 6
    _secret_free(eval_repo, result.out, result.err, *outputs)
    empty = run_cli(capsys, "eval", ".", "--env", "prod", "--no-cache")
    assert empty.code == 2
    assert "slot lab/eval in prod is empty (hint: aigw keys put lab/eval --env prod)" in empty.err


def test_a_price_change_reprices_cached_answers(eval_repo: Path, keys: Path,
                                               provider: ScriptedProvider,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval(capsys, keys).code == 0
    calls = provider.total_calls
    text = (eval_repo / "aigw.yaml").read_text()
    (eval_repo / "aigw.yaml").write_text(text.replace('input: "0.50", output: "1.00"',
                                                      'input: "5.00", output: "10.00"'))
    again = json.loads(_eval(capsys, keys, "--json").out)
    assert provider.total_calls == calls
    assert again["aliases"][0]["head"]["cost"] == 0.00051  # 66 x 5 + 18 x 10 per million
    assert "| cost | 0.000078 USD | 0.000510 USD |" in format_markdown(again)
