"""metrics.jsonl lines that are not records (hostile or damaged) are skipped by every reader,
so one such line can neither break a resume nor the Train page's runs table."""

from __future__ import annotations

import json

import pytest

from vaeflow.training.runs import RunDir

GOOD = {"kind": "window", "step": 1, "loss": 1.5}


@pytest.mark.parametrize("bad_line", [
    "[" * 100_000 + "]" * 100_000,      # nesting past the parser's recursion limit
    '{"step": ' + "9" * 5000 + "}",     # an integer past Python's digit limit
], ids=["deep-nesting", "huge-integer"])
def test_a_line_json_cannot_read_is_skipped_like_a_torn_one(tmp_path, bad_line):
    run = RunDir(tmp_path, "r").create()
    run.metrics_path.write_text(json.dumps(GOOD) + "\n" + bad_line + "\n")
    assert run.read_metrics() == [GOOD]
    run.truncate_metrics(1)
    assert run.read_metrics() == [GOOD]


@pytest.mark.parametrize("bad_record", [{"kind": "window", "step": None}, {"kind": "window", "step": "x"},
                                        {"kind": "epoch", "step": 1, "epoch": "one"}],
                         ids=["null-step", "text-step", "text-epoch"])
def test_resume_truncation_drops_a_record_with_a_non_integer_position(tmp_path, bad_record):
    run = RunDir(tmp_path, "r").create()
    run.metrics_path.write_text(json.dumps(GOOD) + "\n" + json.dumps(bad_record) + "\n")
    run.truncate_metrics(1, completed_epochs=0)
    assert run.read_metrics() == [GOOD]
