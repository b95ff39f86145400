#!/usr/bin/env python3
"""Reference timings for `dialclip bench`: PyTorch CPU and ONNX Runtime on the same model shapes.

Builds, with RANDOM weights (nothing is downloaded), the architectures dialclip runs:
  (a) the CLIP ViT-B/32 image tower (width 768, 12 layers, 12 heads, patch 32, 224 px, quick-GELU,
      projection 512) -> ms per image at batch 1 and 16, in PyTorch and in ONNX Runtime;
  (b) the CLIP ViT-B/32 text tower (width 512, 12 layers, 8 heads, 77 tokens, causal mask) ->
      ms per text at 77 tokens (batch 16);
  (c) a MiniLM-shaped BERT (384, 6 layers, 12 heads, MLP 1536, exact GELU, post-LN) on 28-token
      sentences -> sentences/s at batch 1 and 32; with --minilm-lengths, also on sentences of
      exactly the token counts dialclip timed, padded to the longest (as sentence-transformers);
  (d) torch sgemm GFLOP/s at the ViT-B/32 batch-16 matrix shapes.
Each measurement: warm-up runs, then the median of several timed runs.

Run it in the reference venv (Scripts/make-reference-env.sh):
    ~/.cache/dialclip/refenv/bin/python Scripts/reference_bench.py --threads 2 --json
The JSON schema is documented in docs/reference-bench.md. Progress goes to stderr; with --json,
stdout carries exactly one JSON object.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings


def log(msg: str) -> None:
    print(f"reference_bench: {msg}", file=sys.stderr, flush=True)


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the environment
    print("reference_bench: torch is not importable here. Create the reference env with "
          "Scripts/make-reference-env.sh and run this script with its python "
          "(${DIALCLIP_REFENV:-${XDG_CACHE_HOME:-~/.cache}/dialclip/refenv}/bin/python).", file=sys.stderr)
    sys.exit(2)


# ----------------------------------------------------------------------------------------------
# Models (written like OpenAI's clip/model.py and HF's BertModel, random init)
# ----------------------------------------------------------------------------------------------
class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN block of CLIP: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, width: int, heads: int, causal_len: int | None = None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)
        if causal_len is not None:
            mask = torch.full((causal_len, causal_len), float("-inf")).triu(1)
            self.register_buffer("attn_mask", mask, persistent=False)
        else:
            self.attn_mask = None

    def forward(self, x):  # x: [B, L, W]
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    """CLIP ViT image tower; output [B, output_dim] (not normalised)."""

    def __init__(self, image_size=224, patch=32, width=768, layers=12, heads=12, output_dim=512):
        super().__init__()
        grid = image_size // patch
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):  # x: [B, 3, 224, 224]
        x = self.conv1(x)                                  # [B, W, 7, 7]
        x = x.flatten(2).transpose(1, 2)                   # [B, 49, W]
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding  # [B, 50, W]
        x = self.blocks(self.ln_pre(x))
        return self.ln_post(x[:, 0, :]) @ self.proj       # [B, 512]


class TextTransformer(nn.Module):
    """CLIP text tower (causal); features at the EOT position (argmax id, as OpenAI does)."""

    def __init__(self, vocab=49408, context=77, width=512, layers=12, heads=8, output_dim=512):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(context, width))
        self.blocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, causal_len=context)
                                      for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, output_dim))

    def forward(self, ids):  # ids: [B, 77] int64
        x = self.token_embedding(ids) + self.positional_embedding
        x = self.ln_final(self.blocks(x))
        eot = ids.argmax(dim=-1)
        return x[torch.arange(x.shape[0]), eot] @ self.text_projection


class BertLayer(nn.Module):
    """Post-LN BERT layer: LN(x + attn(x)), LN(x + ffn(x)); exact (erf) GELU; eps 1e-12."""

    def __init__(self, hidden=384, heads=12, inter=1536):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.fc1 = nn.Linear(hidden, inter)
        self.fc2 = nn.Linear(inter, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, bias):  # x: [B, L, H]; bias: [B, 1, 1, L] additive key mask
        b, n, h = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)      # [B, heads, L, hd]
        x = self.ln1(x + self.out(a.transpose(1, 2).reshape(b, n, h)))
        return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2 shape: embeddings + LN, 6 post-LN layers, mean pooling, L2 norm."""

    def __init__(self, vocab=30522, max_pos=512, hidden=384, layers=6, heads=12, inter=1536):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, inter) for _ in range(layers)])

    def forward(self, ids, mask):  # ids, mask: [B, L]
        n = ids.shape[1]
        x = self.ln(self.word(ids) + self.pos.weight[:n] + self.token_type.weight[0])
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        m = mask[:, :, None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------
class Timing(tuple):
    """(median, best) wall seconds of the timed runs."""

    @property
    def median(self):
        return self[0]

    @property
    def best(self):
        return self[1]


_TIMED = [0.0, 0.0]   # process CPU seconds and wall seconds spent in timed runs


def median_seconds(fn, warmup: int, runs: int) -> Timing:
    for _ in range(warmup):
        fn()
    times = []
    c0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    _TIMED[0] += time.process_time() - c0
    _TIMED[1] += sum(times)
    return Timing((statistics.median(times), min(times)))


def torch_timer(model, inputs, warmup, runs):
    with torch.inference_mode():
        return median_seconds(lambda: model(*inputs), warmup, runs)


def export_onnx(model, example, path):
    """torch.onnx.export with a dynamic batch axis (dynamo exporter; legacy one as fallback)."""
    batch = torch.export.Dim("batch", min=1, max=64)
    # The exporter's notes (e.g. "torchvision is not installed") are noise here, and nothing it
    # prints may reach stdout, which carries the JSON.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), path, dynamo=True, input_names=["pixels"],
                              output_names=["embeds"], dynamic_shapes=({0: batch},),
                              verbose=False, optimize=True)
        return "dynamo"
    except Exception as err:  # pragma: no cover - depends on the torch version
        log(f"dynamo export failed ({type(err).__name__}: {err}); using the TorchScript exporter")
        with contextlib.redirect_stdout(sys.stderr):
            torch.onnx.export(model, (example,), path, dynamo=False, input_names=["pixels"],
                              output_names=["embeds"], dynamic_axes={"pixels": {0: "batch"}},
                              opset_version=17)
        return "torchscript"


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def sgemm_rows(threads, warmup, runs):
    """GFLOP/s of torch.mm (float32) at the ViT-B/32 batch-16 shapes (M = 50 tokens x 16)."""
    m = 50 * 16
    shapes = {"qkv": (m, 768, 2304), "attn_out": (m, 768, 768), "mlp_fc": (m, 768, 3072),
              "mlp_proj": (m, 3072, 768), "square_1024": (1024, 1024, 1024)}
    out = {}
    for name, (mm, k, n) in shapes.items():
        a, b = torch.randn(mm, k), torch.randn(k, n)
        c = torch.empty(mm, n)
        secs = median_seconds(lambda: torch.mm(a, b, out=c), warmup, max(runs, 7)).median
        out[name] = {"m": mm, "k": k, "n": n, "gflops": 2.0 * mm * k * n / secs / 1e9}
    return out


def threadpool_info():
    try:
        from threadpoolctl import threadpool_info as info
    except ImportError:
        return None
    import numpy  # noqa: F401  (so that numpy's bundled BLAS shows up too)
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer",
            "architecture")
    return [{k: d.get(k) for k in keep if k in d} for d in info()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch / ONNX Runtime threads (default 2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    ap.add_argument("--skip-ort", action="store_true", help="no ONNX Runtime rows")
    ap.add_argument("--skip-sgemm", action="store_true", help="no sgemm rows")
    ap.add_argument("--minilm-lengths", default=None,
                    help="comma-separated token counts of the sentences dialclip times (e.g. 24,31,48): "
                         "adds MiniLM rows on random ids of exactly those lengths, padded to the longest "
                         "with an attention mask as sentence-transformers batches them")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiny", action="store_true",
                    help="for tests only: the same pipeline on tiny models (numbers meaningless)")
    args = ap.parse_args(argv)
    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        ap.error("--threads and --runs must be >= 1, --warmup >= 0")
    real_lengths = []
    if args.minilm_lengths:
        try:
            real_lengths = [int(v) for v in args.minilm_lengths.split(",")]
        except ValueError:
            ap.error("--minilm-lengths takes comma-separated integers")
        if not real_lengths or any(n < 2 or n > 512 for n in real_lengths):
            ap.error("--minilm-lengths: each length must be 2..512 ([CLS] and [SEP] included)")

    started = time.perf_counter()
    # Other processes on the same cores distort every number here: record how busy the machine was.
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    w, r = args.warmup, args.runs
    rows, best = {}, {}   # rows: from the median run (the contract); best: from the fastest run

    def ms_per(name, t, items):
        rows[name], best[name] = 1e3 * t.median / items, 1e3 * t.best / items

    def per_s(name, t, items):
        rows[name], best[name] = items / t.median, items / t.best

    # (a) image tower
    log("building ViT-B/32 image tower (random weights)")
    size = 64 if args.tiny else 224
    vit = (VisionTransformer(image_size=size, width=64, layers=1, heads=2, output_dim=32)
           if args.tiny else VisionTransformer()).eval()
    img16 = torch.randn(16, 3, size, size)
    img1 = img16[:1].clone()
    ms_per("image_b1_torch_ms_per_image", torch_timer(vit, (img1,), w, max(r, 7)), 1)
    ms_per("image_b16_torch_ms_per_image", torch_timer(vit, (img16,), w, r), 16)
    log(f"image torch: b1 {rows['image_b1_torch_ms_per_image']:.1f} ms, "
        f"b16 {rows['image_b16_torch_ms_per_image']:.1f} ms/image")

    ort_version, exporter, max_diff = None, None, None
    if not args.skip_ort:
        import onnxruntime as ort
        ort_version = ort.__version__
        with tempfile.TemporaryDirectory(prefix="dialclip-refbench-") as tmp:
            path = os.path.join(tmp, "vit_b32.onnx")
            log("exporting the image tower to ONNX")
            t0 = time.perf_counter()
            # Export with the batch-16 example: torch.export specialises a dimension of size 1.
            exporter = export_onnx(vit, img16, path)
            log(f"exported with the {exporter} exporter in {time.perf_counter() - t0:.1f} s")
            sess = ort_session(path, args.threads)
            name = sess.get_inputs()[0].name
            x1, x16 = img1.numpy(), img16.numpy()
            run1 = lambda: sess.run(None, {name: x1})  # noqa: E731
            run16 = lambda: sess.run(None, {name: x16})  # noqa: E731
            with torch.inference_mode():
                ref = vit(img16).numpy()
            max_diff = float(abs(run16()[0] - ref).max())
            ms_per("image_b1_ort_ms_per_image", median_seconds(run1, w, max(r, 7)), 1)
            ms_per("image_b16_ort_ms_per_image", median_seconds(run16, w, r), 16)
            del sess
        log(f"image onnxruntime: b1 {rows['image_b1_ort_ms_per_image']:.1f} ms, "
            f"b16 {rows['image_b16_ort_ms_per_image']:.1f} ms/image (max |ort - torch| {max_diff:.2e})")
    del vit

    # (b) text tower, 77 tokens, batch 16
    log("building ViT-B/32 text tower (random weights)")
    text = (TextTransformer(width=64, layers=1, heads=2, output_dim=32)
            if args.tiny else TextTransformer()).eval()
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(1, 49406, (16, 77), generator=g)
    ids[:, 0] = 49406            # <start_of_text>
    ids[:, -1] = 49407           # <end_of_text> at the last position: all 77 tokens count
    ms_per("text_turn77_torch_ms_per_text", torch_timer(text, (ids,), w, r), 16)
    log(f"text torch: {rows['text_turn77_torch_ms_per_text']:.2f} ms/text at 77 tokens")
    del text

    # (c) MiniLM, 28-token sentences
    log("building MiniLM-shaped BERT (random weights)")
    minilm = (MiniLM(hidden=64, layers=1, heads=2, inter=128) if args.tiny else MiniLM()).eval()
    seq = 28
    sids = torch.randint(1000, 30000, (32, seq), generator=g)
    sids[:, 0], sids[:, -1] = 101, 102  # [CLS] ... [SEP]
    smask = torch.ones(32, seq, dtype=torch.long)
    per_s("minilm_b1_torch_sent_per_s", torch_timer(minilm, (sids[:1], smask[:1]), w, max(r, 9)), 1)
    per_s("minilm_b32_torch_sent_per_s", torch_timer(minilm, (sids, smask), w, r), 32)
    log(f"minilm torch: b1 {rows['minilm_b1_torch_sent_per_s']:.1f}, "
        f"b32 {rows['minilm_b32_torch_sent_per_s']:.1f} sentences/s")
    if real_lengths:
        # dialclip's own sentences: same token counts, one batch padded to its longest.
        longest = max(real_lengths)
        rids = torch.randint(1000, 30000, (len(real_lengths), longest), generator=g)
        rmask = torch.zeros(len(real_lengths), longest, dtype=torch.long)
        for i, n in enumerate(real_lengths):
            rids[i, 0], rids[i, n - 1], rids[i, n:] = 101, 102, 0
            rmask[i, :n] = 1
        per_s("minilm_real_b1_torch_sent_per_s",
              torch_timer(minilm, (rids[:1, :real_lengths[0]], rmask[:1, :real_lengths[0]]), w, max(r, 9)), 1)
        per_s(f"minilm_real_b{len(real_lengths)}_torch_sent_per_s", torch_timer(minilm, (rids, rmask), w, r),
              len(real_lengths))
        log(f"minilm torch on {len(real_lengths)} sentences of {min(real_lengths)}-{longest} tokens: "
            f"{rows[f'minilm_real_b{len(real_lengths)}_torch_sent_per_s']:.1f} sentences/s")
    del minilm

    # (d) sgemm at the model's shapes
    sgemm = None
    if not args.skip_sgemm:
        sgemm = sgemm_rows(args.threads, w, r)
        m = 50 * 16
        vit_flops = sum(2.0 * v["m"] * v["k"] * v["n"] for k, v in sgemm.items() if k != "square_1024")
        vit_secs = sum(2.0 * v["m"] * v["k"] * v["n"] / (v["gflops"] * 1e9)
                       for k, v in sgemm.items() if k != "square_1024")
        rows["sgemm_vit_b16_torch_gflops"] = vit_flops / vit_secs / 1e9
        log(f"sgemm torch: {rows['sgemm_vit_b16_torch_gflops']:.1f} GFLOP/s at the ViT shapes (M={m})")

    result = {
        "torch_version": torch.__version__,
        "onnxruntime_version": ort_version,
        "threads": args.threads,
        "rows": rows,
        "rows_best": best,
        "sgemm_shapes": sgemm,
        "onnx_exporter": exporter,
        "ort_max_abs_diff_vs_torch": max_diff,
        "torch_cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: None)(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "threadpools": threadpool_info(),
        "method": {"warmup": w, "runs": r, "statistic": "median", "seed": args.seed,
                   "minilm_tokens": seq, "minilm_real_lengths": real_lengths, "text_tokens": 77, "image_size": size,
                   "tiny": args.tiny},
        "loadavg_at_start": load_at_start,
        "loadavg_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        # CPU seconds this process got per wall second and thread during the timed runs: well
        # below 1 means other processes took the cores and the timings above are pessimistic.
        "cpu_share": round(_TIMED[0] / max(_TIMED[1], 1e-9) / args.threads, 3),
        "seconds_total": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"torch {result['torch_version']}  onnxruntime {ort_version}  threads {args.threads}  "
              f"({result['cpu_model']}, capability {result['torch_cpu_capability']})")
        for k, v in rows.items():
            extra = f"   (fastest run {best[k]:.2f})" if k in best else ""
            print(f"  {k:34s} {v:10.2f}{extra}")
        print(f"total {result['seconds_total']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
