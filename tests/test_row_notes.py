"""Row notes: what a reader must know before believing a row, from its runs' cost notes."""

from __future__ import annotations

from bench.aggregate.row_notes import row_notes


def test_lambda_at_target_is_reported_with_its_range_and_scale() -> None:
    notes = [{"weight_decay_at_target": v} for v in (0.22, 0.24, 0.30)]
    (line,) = row_notes(notes)
    assert line == "λ at target: median 0.24 (0.22–0.3 over 3 seeds; 2.4e+03× the official 1e-4)"


def test_unreached_target_and_large_end_correction_are_flagged() -> None:
    notes = [
        {"weight_decay_at_target": 1e-3, "weights_touched_fraction": 0.047},
        {"weight_decay_at_target": None, "weights_touched_fraction": 0.002},
        {"weight_decay_at_target": 2e-3, "weights_touched_fraction": 0.0},
    ]
    lines = row_notes(notes)
    assert "target not reached before the end in 1 of 3 seeds" in lines
    assert "end correction moved 4.7 % of the weights (more than 1 % in 1 of 3 seeds)" in lines


def test_rows_without_those_notes_get_none() -> None:
    assert row_notes([{"weights_touched_fraction": 0.01}, {"score": "magnitude"}]) == []
