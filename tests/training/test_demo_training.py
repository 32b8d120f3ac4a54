"""The training part of ``plume-st demo``, shortened: every stage, hit@1 lines, save, reload, encode."""

from __future__ import annotations

from plume_st.training import run_training_demo


def test_run_training_demo_reports_and_reloads(tmp_path):
    lines: list[str] = []
    result = run_training_demo(
        tmp_path, max_steps=12, batch_size=8, num_records=48, show_progress=False, print_fn=lines.append
    )
    hit_lines = [line for line in lines if "hit@1" in line]
    assert len(hit_lines) >= 2
    assert hit_lines[0].startswith("held-out hit@1 before training: 0.056")
    assert any(line.startswith("held-out hit@1 after training:") for line in hit_lines)
    assert sorted(result["stage_losses"]) == [0, 1, 2, 3, 4]
    assert [result["stage_losses"][s]["latent_steps"] for s in range(5)] == [0, 2, 4, 6, 8]
    assert result["embedding_shape"] == (3, 64)
    assert (result["model_dir"] / "modules.json").is_file()
    assert result["hit_at_1_before"] < 0.06
