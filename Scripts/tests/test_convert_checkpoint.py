"""Tests of Scripts/convert_checkpoint.py on tiny random CLIP checkpoints.

Tensor names come from ../shared/model/clip/NAMES.md (the OpenAI layout table of ViT-B/32), with
tiny widths. Needs torch + safetensors: test.sh runs this file with the reference venv's python
when that venv exists, and reports it as skipped otherwise.
"""
import io
import json
import os
import re
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

try:
    import torch
    import safetensors
    from safetensors import safe_open
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

SKIP_REASON = "torch/safetensors absent: reference env absent, run Scripts/make-reference-env.sh"

# Tiny CLIP: vision width 128 (2 heads at 64 per head), text width 64 (1 head), embed 32,
# vocab 100, context 16, patch 8 on 32 px (16 patches + class token), 2 layers per tower.
W, D, E, V, C, P, GRID, LAYERS = 128, 64, 32, 100, 16, 8, 17, 2


def shared_dir() -> Path:
    return Path(os.environ.get("DIALCLIP_SHARED", REPO.parent / "shared"))


def openai_names_from_spec():
    """(name, full ViT-B/32 shape) pairs of the OpenAI layout table in NAMES.md."""
    text = (shared_dir() / "model/clip/NAMES.md").read_text()
    section = text.split("### OpenAI / open_clip layout", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| \[([0-9, ]*)\] \|$", section, flags=re.M)
    out = []
    for name, shape in rows:
        dims = [int(x) for x in shape.split(",") if x.strip()]
        for i in (range(LAYERS) if "{i}" in name else [None]):
            out.append((name.replace("{i}", str(i)) if i is not None else name, dims))
    return out


def tiny_shape(name):
    """Tiny shape for an OpenAI-layout name (same rank and meaning as ViT-B/32)."""
    w = W if name.startswith("visual.") else D
    if ".resblocks." in name:
        leaf = name.split(".resblocks.", 1)[1].split(".", 1)[1]
        return {"attn.in_proj_weight": [3 * w, w], "attn.in_proj_bias": [3 * w],
                "attn.out_proj.weight": [w, w], "attn.out_proj.bias": [w],
                "ln_1.weight": [w], "ln_1.bias": [w], "ln_2.weight": [w], "ln_2.bias": [w],
                "mlp.c_fc.weight": [4 * w, w], "mlp.c_fc.bias": [4 * w],
                "mlp.c_proj.weight": [w, 4 * w], "mlp.c_proj.bias": [w]}[leaf]
    return {"positional_embedding": [C, D], "text_projection": [D, E], "logit_scale": [],
            "visual.class_embedding": [W], "visual.positional_embedding": [GRID, W],
            "visual.proj": [W, E], "visual.conv1.weight": [W, 3, P, P],
            "visual.ln_pre.weight": [W], "visual.ln_pre.bias": [W],
            "visual.ln_post.weight": [W], "visual.ln_post.bias": [W],
            "token_embedding.weight": [V, D], "ln_final.weight": [D], "ln_final.bias": [D]}[name]


def tiny_openai_state_dict(dtype=None):
    dtype = dtype or torch.float16   # OpenAI's released checkpoints are fp16
    g = torch.Generator().manual_seed(1234)
    sd = {}
    for name, full in openai_names_from_spec():
        shape = tiny_shape(name)
        assert len(shape) == len(full), f"{name}: tiny rank {len(shape)} vs spec {len(full)}"
        sd[name] = torch.randn(shape, generator=g).to(dtype)
    return sd


def with_openai_scalars(sd):
    out = dict(sd)
    out["input_resolution"] = torch.tensor(32)
    out["context_length"] = torch.tensor(C)
    out["vocab_size"] = torch.tensor(V)
    return out


def jit_archive(sd, path):
    """A TorchScript archive whose state_dict is `sd` (like OpenAI's released .pt files)."""
    class Root(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    root = Root()
    for name, t in sd.items():
        *mods, leaf = name.split(".")
        m = root
        for part in mods:
            if not hasattr(m, part):
                m.add_module(part, torch.nn.Module())
            m = getattr(m, part)
        if t.is_floating_point():
            m.register_parameter(leaf, torch.nn.Parameter(t.clone(), requires_grad=False))
        else:
            m.register_buffer(leaf, t.clone())
    torch.jit.script(root).save(str(path))


def read_safetensors(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


class MaliciousPayload:
    """Unpickling this would create a marker file: a stand-in for arbitrary code in a pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@unittest.skipUnless(HAVE_TORCH, SKIP_REASON)
class ConvertCheckpointTests(unittest.TestCase):
    def setUp(self):
        import convert_checkpoint
        self.cc = convert_checkpoint
        self.tmp = tempfile.TemporaryDirectory(prefix="dialclip-convert-test-")
        self.dir = Path(self.tmp.name)
        self.sd = tiny_openai_state_dict()

    def tearDown(self):
        self.tmp.cleanup()

    def convert_quiet(self, *args, **kw):
        with redirect_stderr(io.StringIO()) as err:
            summary = self.cc.convert(*args, **kw)
        return summary, err.getvalue()

    def assert_same_tensors(self, got, expected, dtype=None):
        self.assertEqual(sorted(got), sorted(expected))
        for k, t in expected.items():
            want = t.to(dtype) if dtype is not None else t
            self.assertEqual(got[k].dtype, want.dtype, k)
            self.assertEqual(tuple(got[k].shape), tuple(want.shape), k)
            self.assertTrue(torch.equal(got[k], want), f"{k} differs")

    def test_spec_names_cover_both_towers(self):
        names = {n for n, _ in openai_names_from_spec()}
        # 302 tensors at 12 layers => 14 + 2 * 12 per-layer names; at 2 layers: 14 + 2 * 2 * 12.
        self.assertEqual(len(names), 14 + 2 * LAYERS * 12)
        self.assertIn("visual.transformer.resblocks.1.attn.in_proj_weight", names)
        self.assertIn("transformer.resblocks.1.mlp.c_proj.bias", names)

    def test_openai_plain_state_dict(self):
        src, dst = self.dir / "ViT-tiny.pt", self.dir / "out" / "tiny.safetensors"
        torch.save(with_openai_scalars(self.sd), src)
        summary, _ = self.convert_quiet(str(src), str(dst))
        got, meta = read_safetensors(dst)
        self.assert_same_tensors(got, self.sd)            # fp16 kept, every value identical
        for scalar in ("input_resolution", "context_length", "vocab_size"):
            self.assertNotIn(scalar, got)
        self.assertEqual(summary["dropped"], ["context_length", "input_resolution", "vocab_size"])
        self.assertEqual(meta["vision_heads"], str(W // 64))
        self.assertEqual(meta["text_heads"], str(D // 64))
        self.assertEqual(meta["act"], "quick_gelu")
        self.assertEqual(meta["layout"], "openai")

    def test_openai_jit_archive(self):
        src, dst = self.dir / "ViT-tiny-jit.pt", self.dir / "jit.safetensors"
        jit_archive(with_openai_scalars(self.sd), src)
        self.assertTrue(self.cc.is_torchscript_archive(str(src)))
        self.convert_quiet(str(src), str(dst), dtype="float32")
        got, meta = read_safetensors(dst)
        self.assert_same_tensors(got, self.sd, dtype=torch.float32)   # exact fp16 -> fp32 upcast
        self.assertEqual((meta["vision_heads"], meta["text_heads"], meta["act"]), ("2", "1", "quick_gelu"))

    def test_open_clip_training_checkpoint_with_config(self):
        src = self.dir / "epoch_3.pt"
        wrapped = {"module." + k: v for k, v in self.sd.items()}
        torch.save({"epoch": 3, "name": "tiny", "state_dict": wrapped}, src)
        cfg = self.dir / "open_clip_config.json"
        cfg.write_text(json.dumps({"model_cfg": {
            "embed_dim": E, "quick_gelu": False,
            "vision_cfg": {"image_size": 32, "layers": LAYERS, "width": W, "patch_size": P, "head_width": 32},
            "text_cfg": {"context_length": C, "vocab_size": V, "width": D, "heads": 4, "layers": LAYERS}}}))
        summary, _ = self.convert_quiet(str(src), str(self.dir / "oc"), open_clip_config=str(cfg),
                                        dtype="float16")
        self.assertEqual(summary["output"], str(self.dir / "oc" / "model.safetensors"))
        got, meta = read_safetensors(self.dir / "oc" / "model.safetensors")
        self.assert_same_tensors(got, self.sd)            # "module." stripped, names as in NAMES.md
        self.assertEqual((meta["vision_heads"], meta["text_heads"], meta["act"]), ("4", "4", "gelu"))
        self.assertEqual(meta["layout"], "open_clip")

    def test_open_clip_flags_and_missing_metadata_warning(self):
        src = self.dir / "open_clip_pytorch_model.bin"
        torch.save(self.sd, src)
        _, err = self.convert_quiet(str(src), str(self.dir / "a.safetensors"))
        _, meta = read_safetensors(self.dir / "a.safetensors")
        self.assertNotIn("vision_heads", meta)
        self.assertNotIn("act", meta)
        self.assertIn("unknown", err)
        self.convert_quiet(str(src), str(self.dir / "b.safetensors"), heads=2, text_heads=1, act="gelu")
        _, meta = read_safetensors(self.dir / "b.safetensors")
        self.assertEqual((meta["vision_heads"], meta["text_heads"], meta["act"]), ("2", "1", "gelu"))

    def test_hf_bin_copies_config_and_drops_position_ids(self):
        g = torch.Generator().manual_seed(7)
        hf = {
            "vision_model.embeddings.class_embedding": torch.randn(W, generator=g),
            "vision_model.embeddings.patch_embedding.weight": torch.randn(W, 3, P, P, generator=g),
            "vision_model.embeddings.position_ids": torch.arange(GRID)[None],
            "text_model.embeddings.position_ids": torch.arange(C)[None],
            "text_model.embeddings.token_embedding.weight": torch.randn(V, D, generator=g),
            "text_model.encoder.layers.0.self_attn.q_proj.weight": torch.randn(D, D, generator=g),
            "visual_projection.weight": torch.randn(E, W, generator=g),
            "logit_scale": torch.tensor(2.6592),
        }
        folder = self.dir / "hf"
        folder.mkdir()
        torch.save(hf, folder / "pytorch_model.bin")
        config = {"model_type": "clip", "vision_config": {"num_attention_heads": 2, "hidden_act": "quick_gelu"},
                  "text_config": {"num_attention_heads": 1, "hidden_act": "quick_gelu"}}
        (folder / "config.json").write_text(json.dumps(config, indent=1))
        out = self.dir / "hf-out"
        summary, _ = self.convert_quiet(str(folder), str(out))
        got, meta = read_safetensors(out / "model.safetensors")
        expected = {k: v for k, v in hf.items() if not k.endswith("position_ids")}
        self.assert_same_tensors(got, expected)
        self.assertEqual((out / "config.json").read_bytes(), (folder / "config.json").read_bytes())
        self.assertEqual((meta["vision_heads"], meta["text_heads"], meta["act"]), ("2", "1", "quick_gelu"))
        self.assertTrue(summary["config_copied"])

    def test_pickle_with_code_is_refused_without_running_it(self):
        marker = self.dir / "PWNED"
        src = self.dir / "evil.pt"
        torch.save({"visual.proj": torch.zeros(2, 2), "extra": MaliciousPayload(str(marker))}, src)
        self.assertFalse(marker.exists())
        with redirect_stderr(io.StringIO()) as err:
            code = self.cc.main([str(src), str(self.dir / "evil.safetensors")])
        self.assertEqual(code, 1)
        self.assertIn("weights_only=True", err.getvalue())
        self.assertIn("--unsafe-pickle", err.getvalue())
        self.assertFalse(marker.exists(), "the pickle's payload ran")
        self.assertFalse((self.dir / "evil.safetensors").exists())

    def test_errors_are_reported_not_raised(self):
        with redirect_stderr(io.StringIO()) as err:
            self.assertEqual(self.cc.main([str(self.dir / "missing.pt"), str(self.dir / "x.safetensors")]), 1)
        self.assertIn("no such file", err.getvalue())
        src = self.dir / "notclip.pt"
        torch.save({"fc.weight": torch.zeros(2, 2)}, src)
        with redirect_stderr(io.StringIO()) as err:
            self.assertEqual(self.cc.main([str(src), str(self.dir / "y.safetensors")]), 1)
        self.assertIn("CLIP tensor names", err.getvalue())


if __name__ == "__main__":
    unittest.main()
