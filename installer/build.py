"""Build the frozen sipscope for this operating system, package it, and try the result.

    python installer/build.py                 # dist/sipscope/ + the package for this OS
    python installer/build.py --check         # ... then run the built app's checks
    python installer/build.py --check-only    # only the checks, on an earlier build

Packages: Linux `dist/sipscope-VERSION-linux-ARCH.tar.gz` (the app folder, install.sh,
uninstall.sh and the desktop files); macOS `dist/sipscope-VERSION-macos.dmg` (hdiutil);
Windows `dist/sipscope-VERSION-setup.exe` (Inno Setup's iscc, when installed).

The checks run the built executable as a user would: `--version`, `report` on a capture, a
headless PNG export, and the GUI opening a capture (offscreen, SIPSCOPE_SMOKE_TEST=1 makes it
quit once the findings are in).  On Linux they also install the archive into a throw-away HOME
and XDG_DATA_HOME, check that `xdg-mime` names sipscope the default for pcap and pcapng and that
`xdg-open capture.pcap` starts the frozen app on that file, then uninstall and check that
nothing is left.  Needs PyInstaller (`--install-tools` installs it with pip).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
APP_DIR = DIST / "sipscope"
SPEC = ROOT / "installer" / "pyinstaller" / "sipscope.spec"
CAPTURE = ROOT / "tests" / "data" / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
PYINSTALLER = "pyinstaller>=6.0"


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from sipscope import __version__
    return __version__


def say(text: str) -> None:
    print(f"build: {text}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    say("$ " + " ".join(str(c) for c in command))
    return subprocess.run(command, check=True, **kwargs)


# -- building ---------------------------------------------------------------------------------
def freeze(install_tools: bool) -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        if not install_tools:
            raise SystemExit(f"build: PyInstaller is missing: pip install '{PYINSTALLER}' "
                             "(or run with --install-tools)")
        run([sys.executable, "-m", "pip", "install", "-q", PYINSTALLER])
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller"), str(SPEC)])
    strip_libpython()
    say(f"app folder {APP_DIR}: {folder_size(APP_DIR) / 2**20:.0f} MiB")


def strip_libpython() -> None:
    """A Python built from source (pyenv) ships libpython with its debug symbols, ~20 MiB of
    the bundle.  Only that library is stripped: PyInstaller's strip=True also strips numpy's
    OpenBLAS, which then fails to load ("ELF load command address/offset not page-aligned")."""
    if platform.system() != "Linux" or shutil.which("strip") is None:
        return
    for library in (APP_DIR / "_internal").glob("libpython3*.so*"):
        run(["strip", "--strip-debug", str(library)])


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def package() -> Path | None:
    system = platform.system()
    if system == "Linux":
        return package_linux()
    if system == "Darwin":
        return package_macos()
    if system == "Windows":
        return package_windows()
    say(f"no package format for {system}; the app folder is {APP_DIR}")
    return None


def package_linux() -> Path:
    name = f"sipscope-{version()}-linux-{platform.machine()}"
    archive = DIST / f"{name}.tar.gz"
    resources = ROOT / "resources"
    members = {
        "sipscope": APP_DIR,
        "install.sh": ROOT / "installer" / "linux" / "install.sh",
        "uninstall.sh": ROOT / "installer" / "linux" / "uninstall.sh",
        "share/sipscope.desktop": resources / "sipscope.desktop",
        "share/sipscope-mime.xml": resources / "sipscope-mime.xml",
        "share/icons/sipscope.svg": resources / "icons" / "sipscope.svg",
    }
    with tarfile.open(archive, "w:gz") as tar:
        for inside, path in members.items():
            tar.add(path, arcname=f"{name}/{inside}")
    say(f"archive {archive}: {archive.stat().st_size / 2**20:.0f} MiB")
    return archive


def package_macos() -> Path:
    dmg = DIST / f"sipscope-{version()}-macos.dmg"
    if dmg.exists():
        dmg.unlink()
    run(["hdiutil", "create", "-volname", "sipscope", "-srcfolder", str(DIST / "sipscope.app"),
         "-ov", "-format", "UDZO", str(dmg)])
    return dmg


def package_windows() -> Path | None:
    iscc = shutil.which("iscc") or next(
        (str(p) for p in (Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"))
                          / "Inno Setup 6" / "ISCC.exe",) if p.exists()), None)
    if iscc is None:
        say("Inno Setup (iscc) not found: the app folder is built, the installer is not")
        return None
    run([iscc, f"/DAppVersion={version()}", f"/O{DIST}",
         str(ROOT / "installer" / "windows" / "sipscope.iss")])
    return DIST / f"sipscope-{version()}-setup.exe"


# -- checking ---------------------------------------------------------------------------------
def executable() -> Path:
    name = "sipscope-cli.exe" if platform.system() == "Windows" else "sipscope"
    path = APP_DIR / name
    if platform.system() == "Darwin":
        path = APP_DIR / "sipscope"          # the folder beside the .app holds the same program
    if not path.exists():
        raise SystemExit(f"build: {path} is missing: build first")
    return path


def app_env(**extra: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SIPSCOPE_SINGLE_INSTANCE="0")
    env.update(extra)
    return env


def check_app() -> None:
    app = executable()
    out = run([str(app), "--version"], capture_output=True, text=True, env=app_env()).stdout
    expect(out.strip() == f"sipscope {version()}", f"--version said {out.strip()!r}")
    out = run([str(app), "report", str(CAPTURE)], capture_output=True, text=True,
              env=app_env()).stdout
    expect("== call 1" in out and "== call 2" in out, "report lists both calls of the capture")
    with tempfile.TemporaryDirectory() as scratch:
        png = Path(scratch) / "ladder.png"
        run([str(app), "export", str(CAPTURE), "--view", "ladder", "-o", str(png)],
            env=app_env())
        expect(png_is_drawn(png), "the exported ladder PNG has drawing on it")
        done = run([str(app), str(CAPTURE)], capture_output=True, text=True, timeout=180,
                   env=app_env(SIPSCOPE_SMOKE_TEST="1", SIPSCOPE_CONFIG_DIR=scratch))
    expect("2 calls, 10 messages" in done.stdout, f"the GUI opened the capture: {done.stdout!r}")
    say("app checks passed")


def png_is_drawn(path: Path) -> bool:
    """More than one colour in the picture: decoded with Qt from the build environment."""
    from PySide6.QtGui import QImage
    image = QImage(str(path))
    if image.isNull() or image.width() < 100 or image.height() < 100:
        return False
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    return len(colours) > 3


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"build: check failed: {what}")
    say(f"ok: {what}")


def check_linux_desktop(archive: Path) -> None:
    """install.sh in a throw-away HOME: default handler, xdg-open, then uninstall.sh."""
    for tool in ("xdg-mime", "xdg-open", "update-mime-database"):
        if shutil.which(tool) is None:
            raise SystemExit(f"build: {tool} is missing (apt-get install xdg-utils "
                             "shared-mime-info desktop-file-utils file)")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        data_home = Path(scratch) / "xdg-data"      # not under HOME: XDG_DATA_HOME is honoured
        env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(data_home),
                   XDG_CONFIG_HOME=str(home / ".config"), BIN_DIR=str(home / "bin"),
                   XDG_DATA_DIRS=f"{data_home}:/usr/local/share:/usr/share",
                   QT_QPA_PLATFORM="offscreen", SIPSCOPE_SINGLE_INSTANCE="0",
                   SIPSCOPE_CONFIG_DIR=str(home / "sipscope-config"))
        for name in ("XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION",
                     "GNOME_DESKTOP_SESSION_ID"):
            env.pop(name, None)                      # xdg-utils' generic mode, as on a bare box
        # xdg-open looks up the default application only in a graphical session (DISPLAY set);
        # the app itself draws offscreen and never opens that display.
        env.setdefault("DISPLAY", ":0")
        home.mkdir()
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="tar") if hasattr(tarfile, "data_filter") \
                else tar.extractall(scratch)
        unpacked = next(Path(scratch).glob("sipscope-*"))
        run(["sh", str(unpacked / "install.sh")], env=env)
        installed = data_home / "sipscope" / "app" / "sipscope"
        expect(installed.exists(), f"the app is installed under XDG_DATA_HOME ({installed})")
        for mime in ("application/vnd.tcpdump.pcap", "application/x-pcapng"):
            default = run(["xdg-mime", "query", "default", mime], env=env, capture_output=True,
                          text=True).stdout.strip()
            expect(default == "sipscope.desktop", f"xdg-mime default for {mime} is {default!r}")
        capture = Path(scratch) / "ticket capture.pcap"     # a space, as in real file names
        shutil.copy(CAPTURE, capture)
        opener = subprocess.Popen(["xdg-open", str(capture)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process = wait_for_process(installed, str(capture), seconds=60)
        expect(process is not None, f"xdg-open started {installed} on {capture.name}")
        os.kill(process, 15)
        opener.wait(timeout=30)
        run(["sh", str(unpacked / "uninstall.sh")], env=env)
        left = [p for p in data_home.rglob("*sipscope*")]
        expect(not left, f"uninstall leaves nothing named sipscope ({left})")
        default = run(["xdg-mime", "query", "default", "application/vnd.tcpdump.pcap"], env=env,
                      capture_output=True, text=True).stdout.strip()
        expect(default != "sipscope.desktop", "sipscope is no longer the default for pcap")
    say("desktop integration checks passed")


def wait_for_process(program: Path, argument: str, seconds: float) -> int | None:
    """The pid of a running `program argument` (read from /proc), within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) >= 2 and argv[0] == str(program).encode() and \
                    argument.encode() in argv[1:]:
                return int(entry.name)
        time.sleep(0.2)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="build, package, then check")
    parser.add_argument("--check-only", action="store_true", help="check an earlier build")
    parser.add_argument("--install-tools", action="store_true", help="pip install PyInstaller")
    args = parser.parse_args(argv)
    archive = None
    if not args.check_only:
        freeze(args.install_tools)
        archive = package()
    if args.check or args.check_only:
        check_app()
        if platform.system() == "Linux":
            archive = archive or next(DIST.glob("sipscope-*-linux-*.tar.gz"))
            check_linux_desktop(archive)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
