"""Tests of Scripts/openblas-coretype.sh on synthetic /proc/cpuinfo files."""
import subprocess
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "openblas-coretype.sh"

BASE = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ssse3 sse4_1 sse4_2 avx"


def cpuinfo(flags: str, processors: int = 2) -> str:
    block = ("processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\n"
             "flags\t\t: {flags}\nbugs\t\t: spectre_v1 avx512_fake_bug\n\n")
    return "".join(block.format(n=n, flags=flags) for n in range(processors))


class OpenBLASCoretypeTests(unittest.TestCase):
    def run_script(self, flags, *args):
        with tempfile.NamedTemporaryFile("w", suffix=".cpuinfo") as f:
            f.write(cpuinfo(flags))
            f.flush()
            r = subprocess.run(["bash", str(SCRIPT), *args, f.name], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_avx512_cpu_gets_skylakex(self):
        self.assertEqual(self.run_script(BASE + " avx2 fma avx512f avx512dq avx512bw avx512vl"), ["SkylakeX"])

    def test_incomplete_avx512_falls_back_to_haswell(self):
        # avx512f alone (e.g. Knights Landing has no avx512bw/vl) must not get SkylakeX kernels.
        self.assertEqual(self.run_script(BASE + " avx2 fma avx512f avx512cd"), ["Haswell"])

    def test_avx2_needs_fma_too(self):
        self.assertEqual(self.run_script(BASE + " avx2 fma"), ["Haswell"])
        self.assertEqual(self.run_script(BASE + " avx2"), [])

    def test_old_cpu_leaves_openblas_to_choose(self):
        self.assertEqual(self.run_script(BASE), [])

    def test_flag_names_match_whole_words_only(self):
        # "avx512f" inside "avx512fp16"-like names or the bugs line must not count.
        self.assertEqual(self.run_script(BASE + " avx512fp16 avx512bwx avx512vlx avx2 fma"), ["Haswell"])

    def test_supported_lists_every_usable_kernel(self):
        self.assertEqual(self.run_script(BASE + " avx2 fma avx512f avx512bw avx512vl", "--supported"),
                         ["Prescott", "Haswell", "SkylakeX"])
        self.assertEqual(self.run_script(BASE, "--supported"), ["Prescott"])

    def test_unreadable_file_is_an_error(self):
        r = subprocess.run(["bash", str(SCRIPT), "/nonexistent/cpuinfo"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)


if __name__ == "__main__":
    unittest.main()
