"""Pre-flight for the SLURM profile (`noisesparse slurm-check`): the node share every job of
workflow/profiles/slurm asks for, against what the partition's nodes have (`sinfo`). A
request no node can meet leaves a job PENDING forever, and the executor plugin says nothing
about it; this says which request and which limit, before anything is submitted."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

PROFILE = Path("workflow/profiles/slurm/config.yaml")
SINFO_FORMAT = "%P|%c|%m|%l|%G|%a"  # partition, CPUs, memory (MB), time limit, GRES, up


def profile_requests(profile: Path = PROFILE) -> dict:
    """The profile's default resources, as Snakemake reads them (its YTE and the
    NOISESPARSE_SLURM_* variables applied), plus the GPUs a training job asks for."""
    from snakemake.profiles import ProfileConfigFileParser
    with open(profile) as f:
        args = ProfileConfigFileParser().parse(f)
    res = dict(item.split("=", 1) for item in args.get("default-resources", []))
    return {"partition": res.get("slurm_partition", "").strip("'\""),
            "cpus": int(res.get("cpus_per_task", 1)), "mem_mb": int(res.get("mem_mb", 0)),
            "runtime": int(res.get("runtime", 0)), "gpus": 1}


def minutes(limit: str) -> float:
    """A SLURM time limit in minutes: "infinite", or "M", "M:S", "H:M:S", "D-H", "D-H:M",
    "D-H:M:S" (sinfo prints 4:00:00 for four hours, 30:00 for thirty minutes)."""
    limit = limit.strip()
    if limit.lower() in ("infinite", "unlimited", "n/a"):
        return float("inf")
    days, dash, rest = limit.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if dash:  # D-H[:M[:S]]
        h, m, s = (parts + [0, 0])[:3]
    else:  # M, M:S or H:M:S
        h, m, s = [0] * (3 - len(parts)) + parts if len(parts) == 3 else [0] + (parts + [0])[:2]
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def gpus(gres: str) -> int:
    """GPUs in a GRES string such as "gpu:2", "gpu:a100:4(S:0-1)" or "(null)"."""
    return sum(int(n) for n in re.findall(r"gpu(?::[\w.-]+)?:(\d+)", gres))


def parse_sinfo(text: str) -> list[dict]:
    """One dict per line of `sinfo -h -o SINFO_FORMAT` (a partition's node kind)."""
    rows = []
    for line in text.splitlines():
        if line.strip():
            part, cpus, mem, limit, gres, up = line.split("|")
            rows.append({"partition": part.rstrip("*"), "cpus": int(cpus.rstrip("+")),
                         "mem_mb": int(mem.rstrip("+")), "minutes": minutes(limit),
                         "gpus": gpus(gres), "up": up == "up"})
    return rows


def problems(req: dict, nodes: list[dict]) -> list[str]:
    """Why no node of the requested partition can ever run a job of `req` (empty: some can)."""
    names = sorted({n["partition"] for n in nodes})
    mine = [n for n in nodes if n["partition"] == req["partition"]]
    if not mine:
        return [f"partition {req['partition']!r} does not exist (sinfo lists: "
                f"{', '.join(names) or 'none'}): set NOISESPARSE_SLURM_PARTITION"]
    out = []
    if not any(n["up"] for n in mine):
        out.append(f"partition {req['partition']!r} is not up")
    wants = [("cpus", "cpus", "CPUs", "NOISESPARSE_SLURM_CPUS", req["cpus"]),
             ("mem_mb", "mem_mb", "MB of memory", "NOISESPARSE_SLURM_MEM_MB", req["mem_mb"]),
             ("runtime", "minutes", "minutes", "NOISESPARSE_SLURM_RUNTIME", req["runtime"]),
             ("gpus", "gpus", "GPUs (training jobs)", None, req["gpus"])]
    for _, have, what, var, value in wants:
        most = max(n[have] for n in mine)
        if value > most:
            fix = f"set {var} to at most {most:g}" if var else \
                "use a partition with GPUs (NOISESPARSE_SLURM_PARTITION)"
            out.append(f"every job asks for {value} {what}, but the largest node of partition "
                       f"{req['partition']!r} has {most:g}: {fix}")
    if not out and not any(all(req[k] <= n[h] for k, h, *_ in wants) for n in mine):
        out.append(f"no single node of partition {req['partition']!r} has all of "
                   f"{req['cpus']} CPUs, {req['mem_mb']} MB, {req['gpus']} GPU(s) at once")
    return out


def check(profile: Path = PROFILE) -> list[str]:
    req = profile_requests(profile)
    text = subprocess.run(["sinfo", "-h", "-o", SINFO_FORMAT], check=True,
                          capture_output=True, text=True).stdout
    return problems(req, parse_sinfo(text))
