"""A torch function mode that records every call reading a tensor's value on the host."""

import sys

import torch


class HostSyncs(torch.overrides.TorchFunctionMode):
    """Records calls that copy a tensor's value to the host: on a GPU each one stalls the
    step loop until the device catches up. Runs on the CPU, where these calls are cheap but
    still visible. torch.optim's step counter is a host tensor by design (its .item() is no
    device sync), so calls made from torch.optim itself are not counted."""
    SYNCS = {"item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__",
             "nonzero", "masked_select", "unique", "_local_scalar_dense"}

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if name in self.SYNCS and not caller.startswith("torch.optim"):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))
