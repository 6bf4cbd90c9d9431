"""Makes tests/fixtures/attentive_probe.npz with V-JEPA 2's own code: its AttentiveClassifier on random
weights (its own initialisation), the logits for a random input, and the weights after a few AdamW steps
under its WarmupCosineLRSchedule and CosineWDSchedule, the way its frozen evaluation steps them.

Needs PyTorch and a checkout of facebookresearch/vjepa2 (read, never imported from this repository):

  python scripts/make_attentive_fixture.py --vjepa2 PATH/TO/vjepa2 --out tests/fixtures/attentive_probe.npz
"""

import argparse
import ast
import math
import sys
import types

import numpy as np
import torch

SETUP = dict(embed_dim=32, num_heads=4, depth=4, num_classes=5)
STEPS = 4
HYPER = dict(start_lr=1e-3, ref_lr=3e-3, final_lr=1e-4, warmup=2, ref_wd=0.4, final_wd=0.05)


def _schedulers(path: str) -> dict:
    """The two schedule classes, taken from the reference's eval.py by name (its other imports need
    datasets and distributed set-up this fixture does not)."""
    source = open(path).read()
    tree = ast.parse(source)
    wanted = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in ("WarmupCosineLRSchedule", "CosineWDSchedule")]
    namespace = {"math": math}
    exec(compile(ast.Module(wanted, []), path, "exec"), namespace)
    return namespace


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vjepa2", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = lambda x, *a, **k: x  # drop_path 0 in the probe: never called
    sys.modules.update({"timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models"), "timm.models.layers": layers})
    sys.path.insert(0, args.vjepa2)
    from src.models.attentive_pooler import AttentiveClassifier

    schedules = _schedulers(f"{args.vjepa2}/evals/video_classification_frozen/eval.py")
    torch.manual_seed(0)
    probe = AttentiveClassifier(**SETUP).double()
    before = {k: v.detach().numpy().copy() for k, v in probe.state_dict().items()}
    x = torch.randn(3, 10, SETUP["embed_dim"], dtype=torch.float64)
    y = torch.tensor([0, 3, 4])
    logits = probe(x).detach().numpy()
    group = {"params": list(probe.parameters()), "mc_warmup_steps": HYPER["warmup"], "mc_start_lr": HYPER["start_lr"],
             "mc_ref_lr": HYPER["ref_lr"], "mc_final_lr": HYPER["final_lr"], "mc_ref_wd": HYPER["ref_wd"],
             "mc_final_wd": HYPER["final_wd"]}
    optimizer = torch.optim.AdamW([group])
    lr_schedule = schedules["WarmupCosineLRSchedule"](optimizer, T_max=STEPS)
    wd_schedule = schedules["CosineWDSchedule"](optimizer, T_max=STEPS)
    lrs, wds = [], []
    for _ in range(STEPS):  # as eval.py: schedules stepped before each update
        lr_schedule.step()
        wd_schedule.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        wds.append(optimizer.param_groups[0]["weight_decay"])
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = {k: v.detach().numpy().copy() for k, v in probe.state_dict().items()}
    arrays = {f"before/{k}": v for k, v in before.items()}
    arrays.update({f"after/{k}": v for k, v in after.items()})
    arrays.update(x=x.numpy(), y=y.numpy(), logits=logits, lrs=np.array(lrs), wds=np.array(wds))
    arrays.update({f"setup/{k}": np.array(v) for k, v in {**SETUP, **HYPER, "steps": STEPS}.items()})
    np.savez(args.out, **arrays)
    print(f"wrote {args.out}: {len(before)} tensors, logits {logits.shape}, lr {lrs}, wd {wds}")


if __name__ == "__main__":
    main()
