"""Peak resident memory of PyTorch's ResNet-20 training step (batch 128),
the counterpart of `max_rss_mb` in `llv bench --case resnet20.train_step`.

torch_ref.py does not record memory, so this script runs the same step
(zoo resnet20, 3x32x32, batch 128, SGD lr 0.01 momentum 0.9 wd 5e-4,
cross-entropy) a few times and prints the process's peak RSS, with and
without the cost of importing torch subtracted.  Run it under both
allocator settings, as torch_ref.py does:

    python3 docs/bench/torch_peak_memory.py --threads 2
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
        python3 docs/bench/torch_peak_memory.py --threads 2
"""
import argparse
import importlib.util
import json
import os
import resource

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--zoo", default=os.path.join(HERE, "..", "..", "reference", "zoo.py"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("zoo", a.zoo)
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    after_import = max_rss_mb()
    torch.manual_seed(0)
    model = zoo.build("resnet20", in_channels=3, num_classes=10, image_size=32)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(128, 3, 32, 32)
    y = torch.randint(0, 10, (128,))
    for _ in range(a.steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    peak = max_rss_mb()
    print(json.dumps({"bench": "resnet20.train_step.peak_rss", "threads": a.threads, "steps": a.steps,
                      "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""), "max_rss_mb": round(peak, 1),
                      "rss_after_import_mb": round(after_import, 1), "max_rss_minus_import_mb": round(peak - after_import, 1)}))


if __name__ == "__main__":
    main()
