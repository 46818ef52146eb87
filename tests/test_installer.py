"""The installer files that cannot be built on Linux are at least well-formed and complete
(the Linux build itself is made and tried by installer/build.py --check, which .ci/run runs)."""

from __future__ import annotations

import importlib.util
import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALLER = Path(__file__).resolve().parents[1] / "installer"


def _bundle_info():
    spec = importlib.util.spec_from_file_location("bundle_info",
                                                  INSTALLER / "macos" / "bundle_info.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_macos_plist_is_a_dictionary_that_declares_the_capture_types():
    info = _bundle_info().info_plist("9.8.7")
    plistlib.loads(plistlib.dumps(info))                 # a valid property list
    assert info["CFBundleShortVersionString"] == "9.8.7"
    extensions = {ext for declared in info["UTImportedTypeDeclarations"]
                  for ext in declared["UTTypeTagSpecification"]["public.filename-extension"]}
    assert extensions == {"pcap", "cap", "pcapng"}
    declared = {d["UTTypeIdentifier"] for d in info["UTImportedTypeDeclarations"]}
    viewed = {uti for doc in info["CFBundleDocumentTypes"] for uti in doc["LSItemContentTypes"]}
    assert declared <= viewed                            # every imported type is a document


def test_the_windows_installer_registers_every_capture_extension():
    script = (INSTALLER / "windows" / "sipscope.iss").read_text()
    open_with = set(re.findall(r'Classes\\(\.[a-z]+)\\OpenWithProgids', script))
    assert open_with == {".pcap", ".pcapng", ".cap", ".gz"}
    defaults = set(re.findall(r'Subkey: "Software\\Classes\\(\.[a-z]+)"; ValueType: string; '
                              r'ValueName: ""; ValueData: "\{#ProgId\}".*Tasks: makedefault',
                              script))
    assert defaults == {".pcap", ".pcapng", ".cap"}      # never the default for every .gz
    assert '"{app}\\sipscope.exe"" ""%1"""' in script


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh"])
def test_the_linux_scripts_parse(script):
    subprocess.run(["sh", "-n", str(INSTALLER / "linux" / script)], check=True)
