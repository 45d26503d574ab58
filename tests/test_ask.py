"""`llmhw ask` and its step-by-step API: whole scripted sessions, the commands at each prompt, and the saved profile."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llmhw import Consultation, InputError, LlmhwError, api
from llmhw.cli import main
from llmhw.cli.render import how_text, what_if_text, why_text
from llmhw.profile import NONE
from llmhw.session import RULES

INFERENCE_LOCAL = ["model", "task", "precision", "context", "concurrency", "budget", "ecosystem", "deployment", "scale",
                   "hours_per_day", "cpu_cores", "ram_gb", "offload", "host", "host_bandwidth_gbs"]


def transcript(runner, tmp_path: Path, script: list[tuple[str, str]], after: list[str] = ()) -> str:
    """Run `llmhw ask` with one line per (prompt, typed text), then the follow-up commands; check each line met its prompt.

    Piped answers are echoed after their prompt, so `slot [default]> text` in the output proves which question took it.
    """
    lines = [text for _, text in script] + list(after)
    result = runner.invoke(main, ["ask"], input="".join(f"{line}\n" for line in lines), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    pos = 0
    for prompt, text in script:
        match = re.compile(rf"^{re.escape(prompt)}( \[[^\]\n]*\])?> {re.escape(text)}$", re.M).search(out, pos)
        assert match, f"no `{prompt}> {text}` after position {pos} in:\n{out}"
        pos = match.end()
    return out


def saved_json(runner, path: Path) -> dict:
    result = runner.invoke(main, ["recommend", "--profile", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_reproduced(runner, out: str, path: Path) -> dict:
    """The saved profile gives `recommend` exactly the result the session showed, line for line."""
    text = runner.invoke(main, ["recommend", "--profile", str(path)])
    assert text.exit_code == 0, text.output
    assert text.stdout in out
    return saved_json(runner, path)


# -- whole sessions through the CLI ------------------------------------------------------------------------


def test_personal_1_5b_session_with_why_help_back_and_an_invalid_answer(runner, tmp_path):
    profile = tmp_path / "personal.yaml"
    script = [
        ("model", "deepseek-r1:1.5b"),
        ("task", "why"), ("task", ""),
        ("precision", "help"), ("precision", ""),
        ("context", "lots"), ("context", "back"),  # back from context re-opens precision
        ("precision", "auto"), ("context", "8k"),
        ("concurrency", ""), ("budget", ""), ("ecosystem", ""), ("deployment", ""), ("scale", ""), ("hours_per_day", ""),
        ("cpu_cores", ""), ("ram_gb", ""), ("offload", ""), ("host", ""), ("host_bandwidth_gbs", ""),
    ]
    out = transcript(runner, tmp_path, script, [f"save {profile}", "how 2", "quit"])
    audit = runner.invoke(main, ["audit", f"{profile}.trace.json"])  # save also writes the consultation's trace
    assert audit.exit_code == 0, audit.output
    assert "[IN-ask-task] asks it: the consultation needs task: Run it or train it?" in out
    assert "  - [MEM-need] <model_name> (<params>) for <task>" in out
    assert "  Press Enter for the default: auto." in out
    assert "  Not accepted: context: expected a number, got 'lots' (try again, or type help)\n" in out
    assert out.count("Question 3: Which weight precision?") == 2
    assert "Question 4: How many tokens per sequence" in out
    assert f"Saved {profile}: `llmhw recommend --profile {profile}` gives the same recommendations." in out
    assert "#2 recommended: 1 x " in out and "  - [REC-recommended] the recommended choice is" in out
    assert out.rstrip().endswith("Session ended.")

    data = assert_reproduced(runner, out, profile)
    assert data["profile"]["context"] == 8192 and data["profile"]["scale"] == "personal"
    assert [r["tier"] for r in data["recommendations"]] == ["minimum", "recommended", "best-in-budget"]
    assert all(r["count"] == 1 for r in data["recommendations"])
    assert data["recommendations"][1]["cost"]["budget_usd"] < 1000  # something cheap for one person


def test_team_70b_session_and_what_if(runner, tmp_path):
    profile = tmp_path / "team.yaml"
    script = [("model", "deepseek-r1:70b"), ("task", "1"), ("precision", ""), ("context", "8192"), ("concurrency", "20"),
              ("budget", "40000"), ("ecosystem", ""), ("deployment", "local"), ("scale", ""), ("hours_per_day", ""),
              ("cpu_cores", "none"), ("ram_gb", ""), ("offload", ""), ("host", ""), ("host_bandwidth_gbs", "")]
    out = transcript(runner, tmp_path, script, ["what-if concurrency=100", f"save {profile}", "quit"])
    assert "scale: team" in out
    assert "What if concurrency=100 (was 20):\n  scale follows: team -> enterprise\n" in out

    data = assert_reproduced(runner, out, profile)
    assert data["profile"]["scale"] == "team" and data["profile"]["concurrency"] == 20
    recs = {r["tier"]: r for r in data["recommendations"]}
    assert set(recs) == {"minimum", "recommended", "best-in-budget"}
    assert recs["best-in-budget"]["cost"]["budget_usd"] <= 40000
    assert all(r["fits"] and r["memory"]["total"] <= r["available"] for r in recs.values())


def test_enterprise_671b_session_recommends_clusters(runner, tmp_path):
    profile = tmp_path / "enterprise.yaml"
    script = [("model", "deepseek-r1"), ("task", ""), ("precision", ""), ("context", ""), ("concurrency", "200"),
              ("budget", ""), ("ecosystem", ""), ("deployment", ""), ("scale", "enterprise"), ("hours_per_day", "24"),
              ("cpu_cores", ""), ("ram_gb", ""), ("offload", ""), ("host", ""), ("host_bandwidth_gbs", "")]
    out = transcript(runner, tmp_path, script, ["how minimum", f"save {profile}"])  # ends at end of input
    assert "  - [REC-minimum] the minimum that works is" in out and "[CAND-enumerate]" in out
    assert out.rstrip().endswith("End of input: session ended.")

    data = assert_reproduced(runner, out, profile)
    assert data["profile"]["model"] == "deepseek-r1" and data["profile"]["scale"] == "enterprise"
    assert len(data["recommendations"]) == 3
    assert all(r["count"] >= 2 for r in data["recommendations"])  # 671B does not fit one device


def test_tpu_curious_user_who_needs_on_prem_gets_p3(runner, tmp_path):
    profile = tmp_path / "tpu.yaml"
    script = [("model", "qwen2.5:7b"), ("task", ""), ("precision", ""), ("context", ""), ("concurrency", ""),
              ("budget", ""), ("ecosystem", "5"), ("deployment", "local"), ("scale", ""), ("hours_per_day", ""),
              ("cpu_cores", ""), ("ram_gb", ""), ("offload", ""), ("host", ""), ("host_bandwidth_gbs", "")]
    out = transcript(runner, tmp_path, script, ["how P3-tpu-lock-in", "what-if deployment=cloud", f"save {profile}", "quit"])
    assert "ecosystem: tpu" in out and "Warnings\n  P3-tpu-lock-in" in out
    assert "P3-tpu-lock-in: TPUs are rented only through Google Cloud. TPUs are not sold" in out
    assert "  - [P3-tpu-lock-in] TPUs tie the workload to Google Cloud (local deployment asked)" in out
    assert "What if deployment=cloud (was local):" in out

    data = assert_reproduced(runner, out, profile)
    assert data["profile"]["ecosystem"] == "tpu" and data["profile"]["deployment"] == "local"
    assert "P3-tpu-lock-in" in [w["id"] for w in data["warnings"]]
    assert data["recommendations"] == []  # TPUs cannot be bought: nothing on-prem


def test_followup_errors_are_explained(runner, tmp_path):
    script = [("model", "deepseek-r1:7b")] + [(slot, "") for slot in INFERENCE_LOCAL[1:]]
    out = transcript(runner, tmp_path, script, [
        "how 9", "what-if contxt=5", "what-if context", "what-if lora_rank=8", "save", f"save {tmp_path}/no/such/dir/p.yaml",
        "bogus", "quit"])
    assert "  Not accepted: how: no conclusion '9'; choose one of 1, 2, 3, minimum, recommended, best-in-budget" in out
    assert "  Not accepted: what-if: unknown field 'contxt'; did you mean 'context'?\n" in out
    assert "  Not accepted: what-if: expected <field>=<value>, e.g. what-if context=32768\n" in out
    assert "  Not accepted: lora_rank: not used when task is inference\n" in out
    assert "  Not accepted: save: expected a file name, e.g. save profile.yaml\n" in out
    assert f"  Not accepted: save: {tmp_path}/no/such/dir/p.yaml: cannot write: No such file or directory\n" in out
    assert "  Unknown command 'bogus'. Now: how <# | tier | id>, what-if <field>=<value>, save <file>, or quit.\n" in out


def test_invalid_answers_are_asked_again(runner, tmp_path):
    script = [("model", ""), ("model", "gpt-9000"), ("model", "99"), ("model", "1"), ("task", "sing"), ("task", "quit")]
    out = transcript(runner, tmp_path, script)
    assert "  Not accepted: model: an answer is needed here (type help to see the choices) (try again, or type help)\n" in out
    assert "  Not accepted: model: unknown model 'gpt-9000'" in out
    assert "  Not accepted: model: expected a choice from 1 to 27 or a name, got '99' (try again, or type help)\n" in out
    assert "  Not accepted: task: expected one of finetune, inference, lora, pretrain, qlora; got 'sing' (try again, or type help)\n" in out
    assert out.rstrip().endswith("Session ended.") and "Memory need" not in out


def test_end_of_input_mid_session(runner):
    result = runner.invoke(main, ["ask"], input="deepseek-r1:7b\n")
    assert result.exit_code == 0 and result.exception is None, repr(result.exception)  # exit 0: CliRunner keeps no SystemExit(0)
    assert result.stdout.rstrip().endswith("task [inference]> \nEnd of input: session ended before the last question.")


def test_back_at_the_first_question(runner, tmp_path):
    out = transcript(runner, tmp_path, [("model", "back"), ("model", "quit")])
    assert "  Not accepted: back: nothing to go back to: this is the first question (try again, or type help)\n" in out


def test_real_subprocess_with_piped_input(tmp_path):
    answers = "deepseek-r1:1.5b\n" + "\n" * (len(INFERENCE_LOCAL) - 1) + f"save {tmp_path / 'p.yaml'}\n"
    done = subprocess.run([sys.executable, "-m", "llmhw.cli", "ask"], input=answers, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "1  minimum " in done.stdout and "2  recommended " in done.stdout
    assert done.stdout.rstrip().endswith("End of input: session ended.")
    assert (tmp_path / "p.yaml").read_text().splitlines()[-1] == "model: deepseek-r1-distill-qwen-1.5b"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_ends_cleanly_with_130():
    proc = subprocess.Popen([sys.executable, "-m", "llmhw.cli", "ask"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert any("Question 1" in line for line in proc.stdout)  # stops at the first question (or fails at end of output)
        time.sleep(0.3)  # let it reach the read of the first answer
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == "Interrupted: session ended."


# -- the step-by-step API ----------------------------------------------------------------------------------


def drive(answers: dict[str, str]) -> tuple[Consultation, list[str]]:
    consult, asked = Consultation(), []
    while (q := consult.next_question()) is not None:
        asked.append(q.slot)
        consult.answer(answers.get(q.slot, ""))
    return consult, asked


def test_only_what_the_rules_need_is_asked():
    assert drive({"model": "qwen2.5:7b"})[1] == INFERENCE_LOCAL
    assert drive({"model": "qwen2.5:7b", "task": "lora", "deployment": "cloud"})[1] == [
        "model", "task", "precision", "context", "batch", "activation_checkpointing", "lora_rank", "budget", "ecosystem",
        "deployment", "scale", "hours_per_day", "tokens"]


def test_question_view_carries_choices_defaults_and_ranges():
    consult = Consultation()
    q = consult.next_question()
    assert q.slot == "model" and q.number == 1 and q.default is None
    assert q.choices[0] == "deepseek-r1-distill-qwen-1.5b" and q.labels[0] == "1.8 B"
    consult.answer("deepseek-r1:7b")
    assert consult.next_question().choices == ("inference", "finetune", "lora", "qlora", "pretrain")
    consult.answer("")
    consult.answer("")
    q = consult.next_question()
    assert (q.slot, q.default, q.range_text()) == ("context", "8192", "a number from 1 to 10,000,000")
    assert q.suggestions[0] == "4096 (short chat)"
    consult.answer("32k")
    consult.answer("")
    q = consult.next_question()
    assert (q.slot, q.default, q.optional) == ("budget", NONE, True)
    assert consult.answers["context"] == 32768


def test_why_lists_exactly_the_rules_that_read_the_slot():
    consult = Consultation()
    consult.answer("deepseek-r1:7b")
    consult.answer("inference")
    consult.answer("auto")
    consult.answer("")
    assert consult.next_question().slot == "concurrency"
    view = consult.why()
    assert view.slot == "concurrency" and view.asker is not None and view.asker.id == "IN-ask-concurrency"
    assert {r.id for r in view.readers} == {m.id for m in RULES if "concurrency" in m.needs and not m.id.startswith("IN-ask-")}
    text = why_text(view)
    assert text.startswith("Why `concurrency`?\n  [IN-ask-concurrency] asks it: the consultation needs concurrency (task is inference)")
    for meta in RULES:
        if not meta.id.startswith("IN-ask-"):
            assert (f"- [{meta.id}] " in text) == ("concurrency" in meta.needs), meta.id
    assert "decides: " in text and "{" not in text


def test_back_restores_the_previous_question():
    consult = Consultation()
    with pytest.raises(InputError, match="^back: nothing to go back to: this is the first question$"):
        consult.back()
    consult.answer("deepseek-r1:7b")
    consult.answer("lora")
    assert consult.next_question().slot == "precision"
    consult.back()
    assert consult.next_question().slot == "task"
    assert "task" not in consult.answers
    consult.answer("")
    assert consult.next_question().slot == "precision" and consult.answers["task"] == "inference"


@pytest.mark.parametrize("slot_answers, raw, message", [
    ([], "", "model: an answer is needed here (type help to see the choices)"),
    ([], "no-such-model-at-all-xyz", "model: unknown model 'no-such-model-at-all-xyz'"),
    (["deepseek-r1:7b"], "6", "task: expected a choice from 1 to 5 or a name, got '6'"),
    (["deepseek-r1:7b", "", ""], "none", "context: expected a number, got 'none'"),
    (["deepseek-r1:7b", "", ""], "0", "context: expected a number from 1 to 10,000,000, got '0'"),
    (["deepseek-r1:7b", "", ""], "12.5", "context: expected a whole number, got '12.5'"),
])
def test_invalid_answers_raise_and_keep_the_question_open(slot_answers, raw, message):
    consult = Consultation()
    for given in slot_answers:
        consult.answer(given)
    before = consult.next_question()
    with pytest.raises(InputError) as caught:
        consult.answer(raw)
    assert str(caught.value).startswith(message)
    assert caught.value.field == before.slot
    assert consult.next_question() == before


def test_result_equals_recommend_on_the_saved_profile():
    consult, _ = drive({"model": "deepseek-r1:70b", "concurrency": "20", "budget": "40000", "cpu_cores": "none"})
    profile = consult.profile()
    assert profile == {"model": "deepseek-r1-distill-llama-70b", "concurrency": 20, "budget": 40000.0}
    assert consult.answers["cpu_cores"] == NONE
    assert api.advise(profile).to_dict() == consult.result().to_dict()
    assert "task" in consult.result().defaults_used  # accepted defaults are listed as defaults
    assert consult.profile_yaml().splitlines()[-3:] == ["model: deepseek-r1-distill-llama-70b", "concurrency: 20", "budget: 40000.0"]


def test_result_needs_a_complete_consultation_and_why_an_open_question():
    consult = Consultation()
    with pytest.raises(LlmhwError, match="^the consultation is not complete: `model` is still open$"):
        consult.result()
    consult, _ = drive({"model": "deepseek-r1:7b"})
    with pytest.raises(LlmhwError, match="no question is open"):
        consult.why()


def test_how_explains_tiers_and_warnings_down_to_the_inputs():
    consult, _ = drive({"model": "deepseek-r1:7b", "ecosystem": "tpu", "deployment": "cloud"})
    advice = consult.result()
    assert advice.recommendations and "P3-tpu-lock-in" in [w["id"] for w in advice.warnings]
    view = consult.how("P3-tpu-lock-in")
    assert (view.kind, view.key, view.number) == ("warning", "P3-tpu-lock-in", None)
    assert [c.node.rule_id for c in view.explained] == ["P3-tpu-lock-in"]
    text = how_text(view)
    assert text.startswith("P3-tpu-lock-in: TPUs are rented only through Google Cloud.")
    assert "  - [P3-tpu-lock-in] TPUs tie the workload to Google Cloud (cloud deployment asked)" in text
    # the same explainer as `llmhw explain`: down to the inputs, with the knowledge entries and their sources
    assert "- your inputs (deployment=cloud, ecosystem=tpu, model=deepseek-r1-distill-qwen-7b) and the defaults (" in text
    assert "  knowledge: model DeepSeek-R1-Distill-Qwen-7B (models.yaml), sources: " in text
    assert consult.how("1") == consult.how("minimum") == consult.how("#1")
    assert consult.how("1").number == 1 and consult.how("1").explained[0].node.rule_id == "REC-minimum"
    need = consult.how("MEM-need")  # a rule whose fact is not a conclusion: its firings' derivations
    assert (need.kind, need.key) == ("rule", "MEM-need") and need.explained[0].node.rule_id == "MEM-need"
    assert how_text(need).startswith(f"MEM-need: {need.explained[0].node.text}\nHow it was reached")
    with pytest.raises(InputError, match="^how: no conclusion 'P9-nothing'; choose one of 1, 2, 3, minimum"):
        consult.how("P9-nothing")


def test_what_if_describes_changes_and_keeps_the_answers():
    consult, _ = drive({"model": "deepseek-r1:7b"})
    answers = consult.answers
    view = consult.what_if("ecosystem", "tpu")
    assert (view.field, view.value, view.was) == ("ecosystem", "tpu", "any")
    assert [(i.change, i.kind, i.id) for i in view.items if i.id == "P3-tpu-lock-in"] == [("added", "warning", "P3-tpu-lock-in")]
    text = what_if_text(view)
    assert text.startswith("What if ecosystem=tpu (was any):\n  minimum: ")
    assert "  + warning P3-tpu-lock-in: " in text
    assert consult.answers == answers
    longer = what_if_text(consult.what_if("context", "131072"))
    assert "  memory need: " in longer and " -> " in longer
    same = what_if_text(consult.what_if("context", "8192"))
    assert same.endswith("  Nothing else changes: the same recommendations, warnings and tips.")
    with pytest.raises(InputError, match=r"^context: expected a number, got 'lots'$"):
        consult.what_if("context", "lots")


def test_consultation_is_reexported_without_loading_the_engine():
    code = "import sys, llmhw; print(llmhw.Consultation.__module__, 'experta' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["llmhw.consult", "False"]
