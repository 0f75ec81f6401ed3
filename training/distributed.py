"""Data-parallel training under torchrun: one process per device, gradients averaged by hooks."""
from __future__ import annotations

import os

import torch


class Distributed:
    """torchrun's environment: one process per device when WORLD_SIZE > 1, else a single process.

    Gradients are averaged across processes by a hook on every trained parameter, which is what
    DistributedDataParallel does, but without wrapping the modules: a recipe calls its networks (and their
    encode_sources / render methods) as it likes and still trains data-parallel. Every rank runs the same
    sequence of backward passes (the recipes are deterministic in what they call), so the all-reduces match.
    """

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = False
        self._hooks = []

    @property
    def main(self) -> bool:
        return self.rank == 0

    def init(self, device_pref: str) -> str | None:
        """Start the process group; returns the device this rank must use (None: choose as usual)."""
        if self.world <= 1:
            return None
        import torch.distributed as dist

        use_cuda = torch.cuda.is_available() and device_pref != "cpu"
        dist.init_process_group("nccl" if use_cuda else "gloo")
        self.active = True
        if use_cuda:
            torch.cuda.set_device(self.local_rank)
            return f"cuda:{self.local_rank}"
        return "cpu"

    def attach(self, modules: dict) -> None:
        if not self.active:
            return
        import torch.distributed as dist

        world = self.world

        def average(p):
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(world)

        for m in modules.values():
            for t in list(m.parameters()) + list(m.buffers()):
                dist.broadcast(t.data, 0)  # identical starting states (rank 0's)
            for p in m.parameters():
                if p.requires_grad:
                    self._hooks.append(p.register_post_accumulate_grad_hook(average))

    def any(self, flag: bool) -> bool:
        """True on every rank when any rank says True (a stop must be agreed, or the others would wait)."""
        if not self.active:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather(self, obj):
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, 0)
        return box[0]

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        if self.active:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.active = False
