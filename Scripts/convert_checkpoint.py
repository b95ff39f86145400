#!/usr/bin/env python3
"""Convert a PyTorch CLIP checkpoint to safetensors for dialclip (which reads no pickles).

Inputs understood:
  * OpenAI CLIP `.pt` — a TorchScript (JIT) archive (the released files) or a plain state_dict.
  * open_clip `.pt` / `.bin` — a plain state_dict, or a training checkpoint whose state_dict sits
    under "state_dict" with "module." prefixes (DDP).
  * Hugging Face `pytorch_model.bin` (or its folder) — converted as is (HF names); the folder's
    `config.json` is copied beside the output.

What it does: strips "module." / "_orig_mod." prefixes; drops the non-parameter scalars
`input_resolution`, `context_length`, `vocab_size` and every `*position_ids` buffer; keeps each
tensor's dtype unless --dtype float32|float16 is given (only floating tensors are cast); writes
the safetensors `__metadata__` keys `vision_heads`, `text_heads`, `act` (quick_gelu|gelu) when
they are known, because shapes alone cannot give them:
  OpenAI layout (JIT archive, or the three scalars present, or --layout openai): width // 64 heads
    for both towers and quick_gelu (how OpenAI's build_model() builds every released model);
  open_clip: from --open-clip-config FILE (open_clip_config.json, or a bare model config) and/or
    --heads / --vision-heads / --text-heads / --act; otherwise nothing is written and dialclip
    falls back to width/64 with a warning;
  HF: from config.json (num_attention_heads, hidden_act).

Security: checkpoints are pickles, and unpickling can run arbitrary code. We load with
torch.load(weights_only=True), whose unpickler only rebuilds tensors and plain containers and
refuses everything else. TorchScript archives cannot be read that way and go through
torch.jit.load (TorchScript's own deserialiser, not arbitrary Python); convert only files you
trust. --unsafe-pickle allows a full pickle load for old checkpoints that store other Python
objects next to the weights — only for files from a source you trust.

Usage:
  python Scripts/convert_checkpoint.py ViT-B-32.pt out/ViT-B-32.safetensors
  python Scripts/convert_checkpoint.py epoch_32.pt out/ --open-clip-config open_clip_config.json
  python Scripts/convert_checkpoint.py hf-clip-folder/ out-folder/ --dtype float16
Needs torch and safetensors (the reference venv from Scripts/make-reference-env.sh has both).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import zipfile

SCALARS = ("input_resolution", "context_length", "vocab_size")
PREFIXES = ("module.", "_orig_mod.")


class ConversionError(Exception):
    """A checkpoint that cannot be converted; the message says why and what to do."""


def _torch():
    try:
        import torch  # noqa: F401
        import safetensors.torch  # noqa: F401
    except ImportError as err:
        raise ConversionError(
            f"{err.name} is not importable: run this script with the reference venv's python "
            "(Scripts/make-reference-env.sh, then ~/.cache/dialclip/refenv/bin/python)") from err
    import torch
    return torch


def is_torchscript_archive(path: str) -> bool:
    """TorchScript archives are zip files with a code/ folder and constants.pkl."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return any("/code/" in n or n.startswith("code/") for n in names) and any(
        n.endswith("constants.pkl") for n in names)


def load_checkpoint(path: str, unsafe_pickle: bool = False):
    """Returns (object, kind) with kind 'jit' or 'pickle'."""
    torch = _torch()
    if is_torchscript_archive(path):
        try:
            module = torch.jit.load(path, map_location="cpu")
        except Exception as err:
            raise ConversionError(f"{path}: TorchScript archive but torch.jit.load failed: {err}") from err
        return module.state_dict(), "jit"
    try:
        return torch.load(path, map_location="cpu", weights_only=True), "pickle"
    except Exception as err:
        if not unsafe_pickle:
            raise ConversionError(
                f"{path}: torch.load(weights_only=True) refused the file ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}). It holds Python objects besides "
                "tensors (or is not a PyTorch checkpoint). If and only if you trust its source, "
                "re-run with --unsafe-pickle.") from err
        print(f"convert_checkpoint: WARNING: full (unsafe) pickle load of {path}", file=sys.stderr)
        try:
            return torch.load(path, map_location="cpu", weights_only=False), "pickle"
        except Exception as err2:
            raise ConversionError(f"{path}: cannot be loaded by torch.load: {err2}") from err2


def extract_state_dict(obj) -> dict:
    """Finds the name -> tensor mapping inside what torch.load returned."""
    torch = _torch()
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConversionError(f"checkpoint holds a {type(obj).__name__}, not a state_dict")
    for key in ("state_dict", "model", "model_state_dict"):
        inner = obj.get(key)
        if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            obj = inner
            break
    out = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            continue
        stripped = name
        changed = True
        while changed:
            changed = False
            for p in PREFIXES:
                if stripped.startswith(p):
                    stripped, changed = stripped[len(p):], True
        out[stripped] = value
    if not any(isinstance(v, torch.Tensor) for v in out.values()):
        raise ConversionError("no tensors found in the checkpoint")
    return out


def detect_layout(sd: dict) -> str:
    if any(k.startswith(("visual.", "transformer.resblocks.", "token_embedding.")) for k in sd):
        return "openai"
    if any(k.startswith(("vision_model.", "text_model.")) for k in sd):
        return "hf"
    raise ConversionError("neither OpenAI/open_clip (visual.*, transformer.*) nor Hugging Face "
                          "(vision_model.*, text_model.*) CLIP tensor names found")


def clean(sd: dict, dtype: str) -> tuple[dict, list]:
    """Drops the scalars / buffers / non-tensors; casts floating tensors if asked."""
    torch = _torch()
    target = {"float32": torch.float32, "float16": torch.float16}.get(dtype)
    out, dropped = {}, []
    for name, t in sd.items():
        if name in SCALARS or name.endswith("position_ids") or not isinstance(t, torch.Tensor):
            dropped.append(name)
            continue
        t = t.detach().cpu()
        if target is not None and t.is_floating_point():
            t = t.to(target)
        # clone: safetensors refuses tensors that share storage (tied weights, views).
        out[name] = t.contiguous().clone()
    return out, dropped


def openai_heads(sd: dict) -> dict:
    """OpenAI's build_model(): heads = width // 64 for both towers, QuickGELU."""
    meta = {"act": "quick_gelu"}
    if "visual.conv1.weight" in sd and "visual.class_embedding" in sd:
        meta["vision_heads"] = str(sd["visual.conv1.weight"].shape[0] // 64)
    if "ln_final.weight" in sd:
        meta["text_heads"] = str(sd["ln_final.weight"].shape[0] // 64)
    return meta


def open_clip_meta(cfg: dict) -> dict:
    """From open_clip_config.json ({"model_cfg": {...}}) or a bare model config."""
    mc = cfg.get("model_cfg", cfg)
    meta = {}
    v, t = mc.get("vision_cfg", {}) or {}, mc.get("text_cfg", {}) or {}
    if "width" in v:
        head_width = int(v.get("head_width", 64))
        meta["vision_heads"] = str(int(v["width"]) // head_width)
    if "heads" in t:
        meta["text_heads"] = str(int(t["heads"]))
    elif "width" in t:
        meta["text_heads"] = str(int(t["width"]) // int(t.get("head_width", 64)))
    meta["act"] = "quick_gelu" if mc.get("quick_gelu", False) else "gelu"
    return meta


def hf_meta(cfg: dict) -> dict:
    meta = {}
    vc, tc = cfg.get("vision_config") or {}, cfg.get("text_config") or {}
    if "num_attention_heads" in vc:
        meta["vision_heads"] = str(vc["num_attention_heads"])
    if "num_attention_heads" in tc:
        meta["text_heads"] = str(tc["num_attention_heads"])
    act = vc.get("hidden_act") or tc.get("hidden_act")
    if act:
        meta["act"] = "quick_gelu" if act == "quick_gelu" else ("gelu" if act.startswith("gelu") else act)
    return meta


def convert(src: str, dst: str, *, dtype: str = "keep", layout: str = "auto",
            open_clip_config: str | None = None, heads: int | None = None,
            vision_heads: int | None = None, text_heads: int | None = None,
            act: str | None = None, unsafe_pickle: bool = False, quiet: bool = False) -> dict:
    """Converts `src` to safetensors at `dst`; returns a summary dict. Raises ConversionError."""
    torch = _torch()
    from safetensors.torch import save_file

    hf_config = None
    if os.path.isdir(src):
        for cand in ("pytorch_model.bin", "model.pt", "open_clip_pytorch_model.bin"):
            if os.path.isfile(os.path.join(src, cand)):
                if os.path.isfile(os.path.join(src, "config.json")):
                    hf_config = os.path.join(src, "config.json")
                src = os.path.join(src, cand)
                break
        else:
            raise ConversionError(f"{src}: folder without pytorch_model.bin")
    elif not os.path.isfile(src):
        raise ConversionError(f"{src}: no such file")
    elif os.path.basename(src) == "pytorch_model.bin":
        cand = os.path.join(os.path.dirname(src) or ".", "config.json")
        hf_config = cand if os.path.isfile(cand) else None

    obj, kind = load_checkpoint(src, unsafe_pickle)
    raw = extract_state_dict(obj)
    found_layout = detect_layout(raw)
    has_scalars = any(s in raw for s in SCALARS)
    if layout == "auto":
        layout = "hf" if found_layout == "hf" else (
            "openai" if (kind == "jit" or has_scalars) else "open_clip")
    elif (layout == "hf") != (found_layout == "hf"):
        raise ConversionError(f"--layout {layout} but the tensor names are in the {found_layout} layout")

    tensors, dropped = clean(raw, dtype)

    meta = {}
    if layout == "openai":
        meta.update(openai_heads(tensors))
    elif layout == "open_clip" and open_clip_config:
        with open(open_clip_config) as f:
            meta.update(open_clip_meta(json.load(f)))
    elif layout == "hf" and hf_config:
        with open(hf_config) as f:
            meta.update(hf_meta(json.load(f)))
    if heads is not None:
        meta["vision_heads"] = meta["text_heads"] = str(heads)
    if vision_heads is not None:
        meta["vision_heads"] = str(vision_heads)
    if text_heads is not None:
        meta["text_heads"] = str(text_heads)
    if act is not None:
        meta["act"] = act
    for key in ("vision_heads", "text_heads"):
        if key in meta and int(meta[key]) < 1:
            raise ConversionError(f"{key} = {meta[key]} is not a positive head count")
    missing = [k for k in ("vision_heads", "text_heads", "act") if k not in meta]
    if missing and not quiet:
        print(f"convert_checkpoint: warning: {', '.join(missing)} unknown (give --open-clip-config "
              "or --heads/--act); dialclip will fall back to width/64 heads and quick_gelu",
              file=sys.stderr)
    meta["layout"] = layout
    meta["source"] = os.path.basename(src)
    meta["converted_by"] = "dialclip Scripts/convert_checkpoint.py"

    if dst.endswith(".safetensors"):
        out_file = dst
        out_dir = os.path.dirname(dst) or "."
    else:
        out_dir = dst
        out_file = os.path.join(dst, "model.safetensors")
    os.makedirs(out_dir, exist_ok=True)
    tmp = out_file + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, out_file)          # never leave a half-written file under the real name
    if hf_config:
        shutil.copyfile(hf_config, os.path.join(out_dir, "config.json"))

    summary = {"output": out_file, "layout": layout, "tensors": len(tensors),
               "parameters": int(sum(t.numel() for t in tensors.values())),
               "dropped": sorted(dropped), "metadata": meta,
               "config_copied": bool(hf_config)}
    if not quiet:
        print(f"convert_checkpoint: wrote {out_file}: {summary['tensors']} tensors, "
              f"{summary['parameters']:,} values, layout {layout}, metadata "
              f"{ {k: meta[k] for k in ('vision_heads', 'text_heads', 'act') if k in meta} }"
              + (f", dropped {', '.join(summary['dropped'])}" if dropped else ""), file=sys.stderr)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Convert a PyTorch CLIP checkpoint to safetensors.",
                                 epilog="See the module docstring for details and security notes.")
    ap.add_argument("input", help="checkpoint file (.pt/.bin) or Hugging Face folder")
    ap.add_argument("output", help="output .safetensors file, or a folder (model.safetensors inside)")
    ap.add_argument("--dtype", choices=["keep", "float32", "float16"], default="keep")
    ap.add_argument("--layout", choices=["auto", "openai", "open_clip", "hf"], default="auto",
                    help="force how heads/act are decided (auto: JIT or the OpenAI scalars -> openai)")
    ap.add_argument("--open-clip-config", metavar="FILE", help="open_clip_config.json for heads/act")
    ap.add_argument("--heads", type=int, help="attention heads of both towers")
    ap.add_argument("--vision-heads", type=int)
    ap.add_argument("--text-heads", type=int)
    ap.add_argument("--act", choices=["quick_gelu", "gelu"])
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="allow a full pickle load (runs code from the file!) for trusted old checkpoints")
    args = ap.parse_args(argv)
    try:
        convert(args.input, args.output, dtype=args.dtype, layout=args.layout,
                open_clip_config=args.open_clip_config, heads=args.heads,
                vision_heads=args.vision_heads, text_heads=args.text_heads, act=args.act,
                unsafe_pickle=args.unsafe_pickle)
    except (ConversionError, OSError, json.JSONDecodeError) as err:
        print(f"convert_checkpoint: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
