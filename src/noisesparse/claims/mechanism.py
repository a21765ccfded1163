"""Claim 3: biases converge to one negative value and weight norms to one value, so the
layer acts as a Top-K (k winners take all) layer."""

from __future__ import annotations

from .common import by_sigma, nearest, row, sweep

CLAIM = 3
STATEMENT = "Biases converge to one negative value and weight norms to one value: a Top-K layer"
CRITERION = ("at sigma~0.8 against sigma 0 (main sweep; living neurons: the authors' definition): "
             "(a) >= 90% of biases negative and the mean bias below its sigma-0 value; (b) the "
             "bias std of living neurons below its sigma-0 value; (c) the weight-norm coefficient "
             "of variation of living neurons below its sigma-0 value; (d) Top-K agreement above "
             "its sigma-0 value (a random network already scores ~0.9 at half active, so no "
             "absolute threshold)")


def judge(plan) -> dict:
    df = sweep(plan)
    c = {m: by_sigma(df, m) for m in ("bias_frac_negative", "bias_mean", "bias_std_living",
                                      "bias_mean_living", "wnorm_cv_living", "topk_agreement")}
    at0 = {m: v.iloc[0] for m, v in c.items()}
    s08 = nearest(c["bias_mean"], 0.8)[0]
    at = {m: nearest(v, 0.8)[1] for m, v in c.items()}
    rel = {k: d["bias_std_living"] / abs(d["bias_mean_living"]) for k, d in (("0", at0), ("s", at))}
    checks = [at["bias_frac_negative"] >= 0.9 and at["bias_mean"] < at0["bias_mean"],
              at["bias_std_living"] < at0["bias_std_living"],
              at["wnorm_cv_living"] < at0["wnorm_cv_living"],
              at["topk_agreement"] > at0["topk_agreement"]]
    measured = (f"sigma 0 -> {s08:g}: (a) negative biases {at0['bias_frac_negative']:.0%} -> "
                f"{at['bias_frac_negative']:.0%}, mean bias {at0['bias_mean']:.3f} -> "
                f"{at['bias_mean']:.3f}; (b) living bias std {at0['bias_std_living']:.3f} -> "
                f"{at['bias_std_living']:.3f} (relative to |mean|: {rel['0']:.2f} -> "
                f"{rel['s']:.2f}); (c) living weight-norm CV {at0['wnorm_cv_living']:.3f} -> "
                f"{at['wnorm_cv_living']:.3f}; (d) Top-K agreement {at0['topk_agreement']:.3f} -> "
                f"{at['topk_agreement']:.3f}; passed: "
                + ", ".join(f"({k}) {'yes' if p else 'no'}" for k, p in zip("abcd", checks)))
    return row(CLAIM, STATEMENT, CRITERION, measured, checks)
