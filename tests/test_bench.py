"""`noisesparse bench` measures the three timings and ensemble scaling and writes a CSV."""

import pandas as pd

from noisesparse.pipeline.bench import run


def test_bench_writes_all_measurements(tmp_path):
    rows = run(d=16, width=32, batch=64, n=512, steps=2, warmup=1, members=(1, 2),
               device="cpu", out_dir=str(tmp_path))
    assert [r["what"] for r in rows] == ["matmuls_only", "reference_dataloader", "ours", "ours"]
    (csv,) = tmp_path.glob("bench_*.csv")
    df = pd.read_csv(csv)
    assert set(df["members"]) == {1, 2}
    assert (df["ms_per_step"] > 0).all()
    assert df.loc[df["what"] == "ours", "speedup_vs_reference"].notna().all()


def test_bench_times_the_compiled_trainer_beside_the_eager_one(tmp_path):
    rows = run(d=16, width=32, batch=64, n=512, steps=2, warmup=1, members=(1,),
               device="cpu", out_dir=str(tmp_path), compile=True)
    assert [r["what"] for r in rows] == ["matmuls_only", "reference_dataloader", "ours",
                                         "ours_compiled"]
    assert all(r["ms_per_step"] > 0 for r in rows)


def test_precision_check_compares_precisions_side_by_side(tmp_path):
    from noisesparse.pipeline.bench import precision_check
    rows = precision_check(device="cpu", steps=20, sigmas=(0.0, 0.8), width=16,
                           dataset="natural_grey6", precisions=("fp32", "bf16"),
                           out_dir=str(tmp_path))
    df = pd.DataFrame(rows)
    assert set(df["precision"]) == {"fp32", "bf16"} and len(df) == 4
    assert df["frac_active_clean"].between(0, 1).all() and (df["loss_clean"] > 0).all()
    # Same seeds and data: bf16 changes the numbers a little, not the picture.
    a = df[df.precision == "fp32"].set_index("sigma")["loss_clean"]
    b = df[df.precision == "bf16"].set_index("sigma")["loss_clean"]
    assert ((a - b).abs() / a < 0.2).all()
    assert list(tmp_path.glob("precision_*.csv"))


def test_unknown_precision_is_a_clear_error():
    import pytest
    import torch

    from noisesparse.errors import ConfigError
    from noisesparse.training.train import set_precision
    with pytest.raises(ConfigError, match="precision"):
        set_precision("fp8", torch.device("cpu"))
