"""Contract test of Scripts/reference_bench.py: `dialclip bench` parses its --json output.

Runs the real pipeline (models, ONNX export, ONNX Runtime, sgemm) with --tiny models so it takes
seconds. Needs the reference venv (torch, onnxruntime); test.sh runs it with that venv's python.
"""
import json
import math
import os
import subprocess
import sys
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "reference_bench.py"

try:
    import torch  # noqa: F401
    import onnxruntime  # noqa: F401
    HAVE_REFENV = True
except ImportError:
    HAVE_REFENV = False

ROWS = ["image_b1_torch_ms_per_image", "image_b16_torch_ms_per_image", "image_b16_ort_ms_per_image",
        "image_b1_ort_ms_per_image", "text_turn77_torch_ms_per_text", "minilm_b1_torch_sent_per_s",
        "minilm_b32_torch_sent_per_s"]


@unittest.skipUnless(HAVE_REFENV, "reference env absent, run Scripts/make-reference-env.sh")
class ReferenceBenchContractTests(unittest.TestCase):
    def run_bench(self, *args):
        r = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--runs", "1", "--warmup", "0",
                            "--threads", "1", "--json", *args],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return json.loads(r.stdout)            # stdout must be exactly one JSON object

    def test_json_has_the_documented_fields(self):
        d = self.run_bench()
        self.assertEqual(d["threads"], 1)
        self.assertTrue(d["torch_version"].startswith("2."))
        self.assertEqual(d["onnxruntime_version"], onnxruntime.__version__)
        for name in ROWS + ["sgemm_vit_b16_torch_gflops"]:
            v = d["rows"][name]
            self.assertTrue(isinstance(v, float) and math.isfinite(v) and v > 0, f"{name} = {v!r}")
        for name in ROWS:
            self.assertIn(name, d["rows_best"])
        # ms rows: the fastest run can't be slower than the median; rates the other way round.
        for name in ROWS:
            if name.endswith("_ms_per_image") or name.endswith("_ms_per_text"):
                self.assertLessEqual(d["rows_best"][name], d["rows"][name] * (1 + 1e-9))
            else:
                self.assertGreaterEqual(d["rows_best"][name], d["rows"][name] * (1 - 1e-9))
        # the exported graph computes what PyTorch computes
        self.assertLess(d["ort_max_abs_diff_vs_torch"], 1e-4)
        self.assertEqual(set(d["sgemm_shapes"]), {"qkv", "attn_out", "mlp_fc", "mlp_proj", "square_1024"})
        self.assertEqual(d["method"]["statistic"], "median")
        self.assertTrue(d["method"]["tiny"])
        self.assertGreater(d["cpu_share"], 0)
        self.assertIn("OPENBLAS_CORETYPE", d["env"])

    def test_skip_flags_drop_their_rows(self):
        d = self.run_bench("--skip-ort", "--skip-sgemm")
        self.assertIsNone(d["onnxruntime_version"])
        self.assertNotIn("image_b16_ort_ms_per_image", d["rows"])
        self.assertNotIn("sgemm_vit_b16_torch_gflops", d["rows"])
        self.assertIn("image_b16_torch_ms_per_image", d["rows"])

    def test_minilm_lengths_add_rows_at_those_shapes(self):
        d = self.run_bench("--skip-ort", "--skip-sgemm", "--minilm-lengths", "5,9,30")
        self.assertEqual(d["method"]["minilm_real_lengths"], [5, 9, 30])
        for name in ("minilm_real_b1_torch_sent_per_s", "minilm_real_b3_torch_sent_per_s"):
            self.assertTrue(math.isfinite(d["rows"][name]) and d["rows"][name] > 0, name)
        self.assertNotIn("minilm_real_b1_torch_sent_per_s", self.run_bench("--skip-ort", "--skip-sgemm")["rows"])

    def test_bad_minilm_lengths_are_usage_errors(self):
        for bad in ("1,3", "abc", "600"):
            r = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--minilm-lengths", bad],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--minilm-lengths", r.stderr)

    def test_bad_arguments_exit_with_usage_error(self):
        r = subprocess.run([sys.executable, str(SCRIPT), "--threads", "0"], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--threads", r.stderr)


if __name__ == "__main__":
    unittest.main()
