"""`noisesparse bench` measures the three timings and ensemble scaling and writes a CSV."""

import pandas as pd

from noisesparse.bench import run


def test_bench_writes_all_measurements(tmp_path):
    rows = run(d=16, width=32, batch=64, n=512, steps=2, warmup=1, members=(1, 2),
               device="cpu", out_dir=str(tmp_path))
    assert [r["what"] for r in rows] == ["matmuls_only", "reference_dataloader", "ours", "ours"]
    (csv,) = tmp_path.glob("bench_*.csv")
    df = pd.read_csv(csv)
    assert set(df["members"]) == {1, 2}
    assert (df["ms_per_step"] > 0).all()
    assert df.loc[df["what"] == "ours", "speedup_vs_reference"].notna().all()
