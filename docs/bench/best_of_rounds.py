"""Per case and side, each round's median, the best (lowest) of them and
their median, from the files written by interleaved.sh:
python3 best_of_rounds.py DIR [DIR ...]  (several folders pool their
rounds: runs of the same binaries)."""
import collections
import json
import statistics
import sys

FILES = {"torch default": "torch_default.jsonl", "torch tuned": "torch_tuned.jsonl",
         "numpy (env unset)": "numpy.jsonl", "llv": "llv.jsonl"}
SKIP = ("meta", "peak_est", "peak_measured", "gemm_torch")


def main(folders):
    res = collections.defaultdict(lambda: collections.defaultdict(list))
    for folder, (side, name) in ((f, item) for f in folders for item in FILES.items()):
        try:
            lines = open(f"{folder}/{name}").read().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            d = json.loads(line)
            b = d.get("bench", "")
            if "median_s" not in d or b.startswith("_") or b in SKIP:
                continue
            key = f"sgemm n={d['n']}" if b.startswith("gemm") else b
            if not b.startswith("gemm"):
                for extra in ("batch", "eval_batch"):
                    if extra in d:
                        key += f" {extra}={d[extra]}"
            res[key][side].append(d["median_s"])
    for key in sorted(res):
        row = []
        for side, v in res[key].items():
            if key.startswith("sgemm"):
                flop = 2 * int(key.split("=")[1]) ** 3
                rounds = ", ".join(f"{flop / x / 1e9:.0f}" for x in v)
                med = flop / statistics.median(v) / 1e9
                row.append(f"{side}: best {flop / min(v) / 1e9:.1f} GFLOP/s, median {med:.1f} (rounds {rounds})")
            else:
                rounds = ", ".join(f"{x * 1e3:.1f}" for x in v)
                row.append(f"{side}: best {min(v) * 1e3:.1f} ms, median {statistics.median(v) * 1e3:.1f} (rounds {rounds})")
        print(f"{key}: " + " | ".join(row))


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
