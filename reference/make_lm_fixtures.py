#!/usr/bin/env python3
"""Makes the PyTorch fixtures that `nn/tests/lm_reference.rs` checks llv's language-model
evaluation and Hessian against (char-lstm on the embedded Shakespeare).

Run from anywhere (needs torch, numpy, safetensors):

    python3 reference/make_lm_fixtures.py

Corpus: `datasets/data/shakespeare/plays.txt`, split by `zoo.py`'s `load_text` exactly as
llv's `TextData` (last 10% held out); windows by `zoo.py`'s `lm_windows` exactly as llv's
`LmWindows` (consecutive, non-overlapping, zero LSTM state per window). Model: zoo.py's
`char-lstm` at its real size (embedding 64, 2-layer LSTM 256, vocabulary 76). It writes
into `nn/tests/fixtures/lm/`:

* `char-lstm-trained.safetensors`: the "trained" checkpoint. Start: the seed-0 export
  `nn/tests/fixtures/weights/char-lstm.safetensors` (the "init" checkpoint, already
  committed). Then TRAIN_STEPS Adam steps (lr 2e-3, PyTorch defaults otherwise, gradient
  norm clipped to 1) on batches of 32 windows of 64 characters of the training split at
  random offsets (torch.Generator seeded 0), mean cross-entropy, zero state per window.
* `eval-init-test.json`, `eval-trained-test.json`: `zoo.py eval` (run through its command
  line) on the first 32 windows of 64 of the held-out split; `eval-trained-train.json`: on
  the first 16 windows of 64 of the training split. Each also records `min_margin`, the
  smallest gap between the two largest logits over the positions, so a reader can see how
  robust an exact accuracy comparison is.
* `hessian.json` and `hessian_hv.safetensors`: in float64 (weights cast from the f32
  checkpoint) with double backward, for the trained checkpoint on the first HESS_WINDOWS
  windows of HESS_SEQ characters of the held-out split, loss = mean cross-entropy over all
  positions:
  - `loss`;
  - the fixed vector v: parameter tensor k (state_dict order), element i (row-major),
    v = 2 frac(i * 0.7548776662466927 + k * 0.5698402909980532) - 1, computed in f64 and
    rounded to f32 (so llv uses the same vector); `vhv` = v.Hv, `hv_norm` = |Hv|, and
    `hv_samples` (safetensors, f32) = (Hv)[j * hv_stride] for j = 0, 1, ...;
  - `top_eigenvalue` and `second_eigenvalue`: Lanczos with full reorthogonalization from a
    seeded Gaussian start, run until the top Ritz value changes by < 1e-12 relative
    (`lanczos_steps`), and `smallest_eigenvalue` (Ritz value of the same run, for scale).
"""
import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
ZOO = os.path.join(HERE, "zoo.py")
TEXT = os.path.join(ROOT, "datasets", "data", "shakespeare", "plays.txt")
FIX = os.path.join(ROOT, "nn", "tests", "fixtures")
OUT = os.path.join(FIX, "lm")
INIT = os.path.join(FIX, "weights", "char-lstm.safetensors")
TRAINED = os.path.join(OUT, "char-lstm-trained.safetensors")

TRAIN_STEPS, TRAIN_BATCH, SEQ = 300, 32, 64
EVAL_LIMIT, TRAIN_EVAL_LIMIT = 32, 16
HESS_SEQ, HESS_WINDOWS, HV_STRIDE, LANCZOS_MAX = 16, 4, 997, 120

GOLDEN_A = 0.7548776662466927
GOLDEN_B = 0.5698402909980532


def zoo_module():
    spec = importlib.util.spec_from_file_location("zoo", ZOO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_net(zoo, weights, vocab, dtype=torch.float32):
    from safetensors.torch import load_file

    net = zoo.CharLSTM(vocab)
    net.load_state_dict(load_file(weights))
    return net.to(dtype).eval()


def train(zoo, train_tokens, vocab):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = load_net(zoo, INIT, vocab).train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    for step in range(TRAIN_STEPS):
        starts = torch.randint(0, len(train_tokens) - SEQ - 1, (TRAIN_BATCH,), generator=gen)
        x = torch.stack([train_tokens[s:s + SEQ] for s in starts])
        y = torch.stack([train_tokens[s + 1:s + SEQ + 1] for s in starts])
        logits = net(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == TRAIN_STEPS - 1:
            print(f"train step {step}: loss {loss.item():.4f}")
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, TRAINED)


def min_margin(zoo, weights, tokens, vocab, limit):
    net = load_net(zoo, weights, vocab)
    x, _ = zoo.lm_windows(tokens, SEQ, limit)
    with torch.no_grad():
        top2 = net(x).reshape(-1, vocab).topk(2, dim=1).values
    return float((top2[:, 0] - top2[:, 1]).min())


def evaluate(zoo, weights, split, limit, tokens, vocab, out_name):
    cmd = [sys.executable, ZOO, "eval", "--model", "char-lstm", "--weights", weights, "--text", TEXT, "--split", split,
           "--seq-len", str(SEQ), "--limit", str(limit)]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(line.strip().splitlines()[-1])
    result.update(seq_len=SEQ, limit=limit, split=split, min_margin=min_margin(zoo, weights, tokens, vocab, limit))
    with open(os.path.join(OUT, out_name), "w") as f:
        json.dump(result, f)
        f.write("\n")
    print(f"{out_name}: {result}")


def formula_vector(params):
    out = []
    for k, p in enumerate(params):
        x = np.arange(p.numel(), dtype=np.float64) * GOLDEN_A + k * GOLDEN_B
        v = (2.0 * (x - np.floor(x)) - 1.0).astype(np.float32).astype(np.float64)
        out.append(torch.from_numpy(v.reshape(tuple(p.shape))))
    return out


def hessian(zoo, valid_tokens, vocab):
    from safetensors.torch import save_file

    torch.set_default_dtype(torch.float64)
    net = load_net(zoo, TRAINED, vocab, torch.float64)
    params = list(net.parameters())
    x, y = zoo.lm_windows(valid_tokens, HESS_SEQ, HESS_WINDOWS)

    def loss_fn():
        return F.cross_entropy(net(x).reshape(-1, vocab), y.reshape(-1))

    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(vs):
        dot = sum((g * v).sum() for g, v in zip(grads, vs))
        return torch.autograd.grad(dot, params, retain_graph=True)

    def flat(ts):
        return torch.cat([t.reshape(-1) for t in ts])

    def unflat(v):
        out, at = [], 0
        for p in params:
            out.append(v[at:at + p.numel()].reshape(p.shape))
            at += p.numel()
        return out

    v = formula_vector(params)
    hv = flat(hvp(v))
    vhv = float(flat(v) @ hv)
    samples = hv[::HV_STRIDE].float().contiguous()

    # Lanczos with full reorthogonalization (twice), to convergence of the top Ritz value.
    n = hv.numel()
    q = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    basis = [q / q.norm()]
    alpha, beta, top, steps = [], [], None, 0
    for j in range(LANCZOS_MAX):
        w = flat(hvp(unflat(basis[j])))
        alpha.append(float(w @ basis[j]))
        t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        ritz = np.linalg.eigvalsh(t)
        steps = j + 1
        if top is not None and abs(ritz[-1] - top) < 1e-12 * abs(ritz[-1]):
            top = ritz[-1]
            break
        top = ritz[-1]
        for _ in range(2):
            for b in basis:
                w = w - (w @ b) * b
        nb = w.norm()
        beta.append(float(nb))
        basis.append(w / nb)
    result = {
        "weights": "char-lstm-trained.safetensors",
        "split": "test",
        "seq_len": HESS_SEQ,
        "windows": HESS_WINDOWS,
        "loss": float(loss.detach()),
        "vhv": vhv,
        "hv_norm": float(hv.norm()),
        "hv_stride": HV_STRIDE,
        "top_eigenvalue": float(ritz[-1]),
        "second_eigenvalue": float(ritz[-2]),
        "smallest_eigenvalue": float(ritz[0]),
        "lanczos_steps": steps,
    }
    save_file({"hv_samples": samples}, os.path.join(OUT, "hessian_hv.safetensors"))
    with open(os.path.join(OUT, "hessian.json"), "w") as f:
        json.dump(result, f)
        f.write("\n")
    print(f"hessian.json: {result}")
    torch.set_default_dtype(torch.float32)


def main():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(OUT, exist_ok=True)
    zoo = zoo_module()
    vocab_bytes, train_tokens, valid_tokens = zoo.load_text(TEXT, 0.1)
    vocab = len(vocab_bytes)
    assert vocab == 76, vocab
    if "--skip-train" not in sys.argv:
        train(zoo, train_tokens, vocab)
    evaluate(zoo, INIT, "test", EVAL_LIMIT, valid_tokens, vocab, "eval-init-test.json")
    evaluate(zoo, TRAINED, "test", EVAL_LIMIT, valid_tokens, vocab, "eval-trained-test.json")
    evaluate(zoo, TRAINED, "train", TRAIN_EVAL_LIMIT, train_tokens, vocab, "eval-trained-train.json")
    hessian(zoo, valid_tokens, vocab)


if __name__ == "__main__":
    main()
