"""Which attack library for F19's classifiers: each candidate's PGD against our reference
`noisesparse.measures.attacks.pgd` (largest |difference| of the adversarial inputs) and its time, on
the quick profile's classifier shape (digits 64 -> 512 -> 10, 256 held-out inputs, 10 steps,
the eps grid's 7 non-zero radii, L-inf and L2, one CPU thread as F19 runs them).

Run it in a private venv holding the candidates (they are not all project dependencies):

    python3 -m venv /tmp/att-venv && . /tmp/att-venv/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1 pyyaml
    pip install foolbox==3.3.4 adversarial-robustness-toolbox==1.20.1
    pip install --no-deps torchattacks==3.5.1   # timing only: its requests pin breaks dvc
    noisesparse data digits                      # in the project venv, once
    PYTHONPATH=src python benchmarks/attacks_compare.py benchmarks/attacks_<date>.csv
"""

from __future__ import annotations

import csv
import importlib.metadata as md
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from noisesparse.measures import attacks as A
from noisesparse.training.config import make_run_config
from noisesparse.data import load as load_data
from noisesparse.training.model import SparseNet

STEPS, N_IN, WIDTH, TRAIN_STEPS, REPEATS = 10, 256, 512, 300, 3
EPS = [0.01, 0.03, 0.06, 0.1, 0.15, 0.3, 0.6]  # config/profiles/quick.yaml attack_eps, 0 left out


def classifier(d):
    cfg = make_run_config({"dataset": "digits", "task": "classification", "width": WIDTH,
                           "seed": 0}, "bench")
    torch.manual_seed(0)
    x, y = d["x_train"], d["y_train"]
    net = SparseNet([cfg], x.shape[1], int(y.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(TRAIN_STEPS):
        loss = F.cross_entropy(net(x + 0.3 * torch.randn_like(x))[2][0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def reference(net, x, y, eps, norm, lo, hi, random_start=True):
    return A.pgd(lambda xa: F.cross_entropy(net(xa)[2][0], y, reduction="sum"), x, eps, norm,
                 STEPS, lo, hi, seed=0, random_start=random_start)


def foolbox_pgd(net, x, y, eps, norm, lo, hi):
    return A.attack_classifier(net, x, y, eps, norm, STEPS, lo, hi, seed=0)


def art_pgd(net, x, y, eps, norm, lo, hi):
    """ART's PyTorch PGD without a random start (it draws the start from numpy's global
    generator, which a torch seed does not reach), so it can be compared to ours."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch
    from art.estimators.classification import PyTorchClassifier
    s = hi - lo
    est = PyTorchClassifier(A._Unit(net, lo, hi).eval(),
                            loss=torch.nn.CrossEntropyLoss(reduction="sum"),
                            input_shape=(x.shape[1],), nb_classes=int(y.max()) + 1,
                            clip_values=(0.0, 1.0), device_type="cpu")
    atk = ProjectedGradientDescentPyTorch(est, norm=np.inf if norm == "linf" else 2,
                                          eps=eps / s, eps_step=A.step_size(eps, STEPS) / s,
                                          max_iter=STEPS, num_random_init=0,
                                          batch_size=len(x), verbose=False)
    u = atk.generate(((x - lo) / s).numpy(), y.numpy())
    return lo + s * torch.from_numpy(u)


def torchattacks_pgd(net, x, y, eps, norm, lo, hi):
    import torchattacks
    s = hi - lo
    cls = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
    # its L2 attack wants image-shaped inputs [B, C, H, W]: [B, 1, 1, D], flattened again
    model = torch.nn.Sequential(torch.nn.Flatten(), A._Unit(net, lo, hi)).eval()
    atk = cls(model, eps=eps / s, alpha=A.step_size(eps, STEPS) / s, steps=STEPS,
              random_start=True)
    torch.manual_seed(0)
    u = atk(((x - lo) / s).reshape(len(x), 1, 1, -1), y)
    return lo + s * u.flatten(1)


def main(out: str) -> None:
    torch.set_num_threads(1)
    d = load_data("digits")
    net = classifier(d)
    x, y = d["x_test"][:N_IN], d["y_test"][:N_IN]
    lo, hi = A.data_range(d["x_train"], x)
    clean = float((net(x)[2][0].argmax(-1) == y).float().mean())
    candidates = {  # name: (attack, its reference, package)
        "foolbox": (foolbox_pgd, "random start (foolbox's draw)", "foolbox"),
        "adversarial-robustness-toolbox": (art_pgd, "no random start",
                                           "adversarial-robustness-toolbox"),
        "torchattacks": (torchattacks_pgd, "none (its own start: not compared)", "torchattacks"),
        "reference": (None, "itself", None),
    }
    rows = []
    for name, (atk, ref_kind, pkg) in candidates.items():
        version = md.version(pkg) if pkg else "noisesparse.measures.attacks.pgd"
        for norm in A.NORMS:
            for eps in EPS:
                if atk is None:
                    def run():
                        return reference(net, x, y, eps, norm, lo, hi)
                else:
                    def run():
                        return atk(net, x, y, eps, norm, lo, hi)
                times = []
                for _ in range(REPEATS):
                    t = time.perf_counter()
                    xa = run()
                    times.append(time.perf_counter() - t)
                if name in ("foolbox", "adversarial-robustness-toolbox"):
                    ref = reference(net, x, y, eps, norm, lo, hi,
                                    random_start=name == "foolbox")
                    diff = float((xa - ref).abs().max())
                else:
                    diff = float("nan")
                acc = float((net(xa)[2][0].argmax(-1) == y).float().mean())
                rows.append({"library": name, "version": version, "norm": norm, "eps": eps,
                             "max_abs_diff_vs_reference": diff, "reference_start": ref_kind,
                             "seconds_median": statistics.median(times),
                             "accuracy_under_attack": acc, "clean_accuracy": clean,
                             "inputs": N_IN, "steps": STEPS, "width": WIDTH, "threads": 1})
                print(rows[-1], flush=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for name in candidates:
        sel = [r for r in rows if r["library"] == name]
        print(f"{name}: {sum(r['seconds_median'] for r in sel):.3f} s per network "
              f"({len(sel)} attacks), max diff "
              f"{max(r['max_abs_diff_vs_reference'] for r in sel):.2e}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: attacks_compare.py OUT.csv")
    main(sys.argv[1])
