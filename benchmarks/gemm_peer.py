#!/usr/bin/env python3
"""OpenBLAS sgemm through PyTorch at the shapes of `Rnn.MLNet.Benchmarks gemm`, same JSON lines (impl "torch").

    /usr/bin/python3 benchmarks/gemm_peer.py [--threads N] [--seconds S]

Shapes and layouts are those of benchmarks/Rnn.MLNet.Benchmarks/GemmThroughput.cs: C[M,N] = A·Bᵀ, A·B or Aᵀ·B in fp32,
written into a preallocated C (torch.mm(out=...)), timed the same way (repeat for at least S seconds, at least 3 times).
"""
import argparse, json, time
import torch

SHAPES = [(400, 10000, 200), (32, 1024, 256), (2048, 1024, 256), (20, 2600, 650), (700, 10000, 650), (1600, 512, 128),
          (10000, 650, 700), (700, 650, 10000), (2600, 650, 700), (700, 650, 2600), (20, 650, 2600)]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    for m, n, k in SHAPES:
        for ta, tb, layout in ((False, True, "A·Bᵀ"), (False, False, "A·B"), (True, False, "Aᵀ·B")):
            a = torch.rand((k, m) if ta else (m, k), generator=g) * 2 - 1
            b = torch.rand((n, k) if tb else (k, n), generator=g) * 2 - 1
            A = a.t() if ta else a
            B = b.t() if tb else b
            c = torch.empty(m, n)
            torch.mm(A, B, out=c)
            reps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.seconds or reps < 3:
                torch.mm(A, B, out=c)
                reps += 1
            gflops = 2.0 * m * n * k * reps / (time.perf_counter() - t0) / 1e9
            print(json.dumps({"impl": "torch", "m": m, "n": n, "k": k, "layout": layout, "threads": args.threads, "gflops": round(gflops, 1)}, ensure_ascii=False), flush=True)

if __name__ == "__main__":
    main()
