"""The SLURM profile and its pre-flight (noisesparse.pipeline.slurm): the profile's requests come from
the NOISESPARSE_SLURM_* settings, and a request no node can meet is named, with its limit."""

from pathlib import Path

import pytest

from noisesparse.pipeline.slurm import gpus, minutes, parse_sinfo, problems, profile_requests

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow/profiles/slurm/config.yaml"
# `sinfo -h -o "%P|%c|%m|%l|%G|%a"` on a cluster with a small CPU partition and a GPU one
SINFO = ("cpu*|8|16000|1-00:00:00|(null)|up\n"
         "gpu|2|20000|4:00:00|gpu:2|up\n"
         "gpu|16|64000|4:00:00|gpu:a100:4(S:0-1)|up\n")
REQ = {"partition": "gpu", "cpus": 4, "mem_mb": 32000, "runtime": 240, "gpus": 1}


def test_profile_requests_follow_the_documented_settings(monkeypatch):
    for var in ("PARTITION", "ACCOUNT", "CPUS", "MEM_MB", "RUNTIME"):
        monkeypatch.delenv(f"NOISESPARSE_SLURM_{var}", raising=False)
    assert profile_requests(PROFILE) == REQ  # the defaults, for a GPU node of a real cluster
    monkeypatch.setenv("NOISESPARSE_SLURM_CPUS", "1")
    monkeypatch.setenv("NOISESPARSE_SLURM_MEM_MB", "2000")
    monkeypatch.setenv("NOISESPARSE_SLURM_RUNTIME", "30")
    monkeypatch.setenv("NOISESPARSE_SLURM_PARTITION", "short")
    assert profile_requests(PROFILE) == {"partition": "short", "cpus": 1, "mem_mb": 2000,
                                         "runtime": 30, "gpus": 1}


def test_profile_states_the_account_or_none(monkeypatch):
    from snakemake.profiles import ProfileConfigFileParser

    def parsed():
        with open(PROFILE) as f:
            return ProfileConfigFileParser().parse(f)

    monkeypatch.delenv("NOISESPARSE_SLURM_ACCOUNT", raising=False)
    args = parsed()
    assert not any(r.startswith("slurm_account") for r in args["default-resources"])
    assert args["slurm-status-command"] == "squeue"
    monkeypatch.setenv("NOISESPARSE_SLURM_ACCOUNT", "proj42")
    args = parsed()
    assert "slurm_account=proj42" in args["default-resources"]


def test_time_limits_and_gres():
    assert minutes("infinite") == float("inf")
    assert minutes("30:00") == 30 and minutes("4:00:00") == 240 and minutes("45") == 45
    assert minutes("1-00:00:00") == 1440 and minutes("2-12") == 3600
    assert gpus("gpu:2") == 2 and gpus("gpu:a100:4(S:0-1)") == 4 and gpus("(null)") == 0
    assert gpus("gpu:a100:2,gpu:v100:1") == 3


def test_a_request_that_fits_has_no_problem():
    nodes = parse_sinfo(SINFO)
    assert [n["partition"] for n in nodes] == ["cpu", "gpu", "gpu"]
    assert problems(REQ, nodes) == []  # the 16-CPU GPU node can run it


@pytest.mark.parametrize("change, words", [
    ({"cpus": 32}, ["32 CPUs", "has 16", "NOISESPARSE_SLURM_CPUS"]),
    ({"mem_mb": 128000}, ["128000 MB", "has 64000", "NOISESPARSE_SLURM_MEM_MB"]),
    ({"runtime": 480}, ["480 minutes", "has 240", "NOISESPARSE_SLURM_RUNTIME"]),
    ({"partition": "cpu", "mem_mb": 8000}, ["1 GPUs", "has 0", "partition with GPUs"]),
    ({"partition": "big"}, ["'big' does not exist", "cpu, gpu"]),
])
def test_a_request_no_node_meets_is_named(change, words):
    found = problems({**REQ, **change}, parse_sinfo(SINFO))
    assert len(found) == 1
    for w in words:
        assert w in found[0], found[0]


def test_limits_of_different_nodes_do_not_add_up():
    # 3 CPUs and 30,000 MB: each within some node's limit, but no node has both
    nodes = parse_sinfo("p|2|40000|infinite|gpu:1|up\np|8|20000|infinite|gpu:1|up\n")
    found = problems({**REQ, "partition": "p", "cpus": 3, "mem_mb": 30000}, nodes)
    assert found and "no single node" in found[0]


def test_a_partition_that_is_down_is_named():
    nodes = parse_sinfo("gpu|16|64000|infinite|gpu:4|down\n")
    assert problems(REQ, nodes) == ["partition 'gpu' is not up"]
