"""What the installers owe: the third-party licences file covers every distribution of the
bundle's environment, and ale-py (GPL-2.0-only, with the publishers' ROMs) stays out."""
import importlib.metadata as md
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

import third_party_licences as tpl  # noqa: E402


def test_the_licences_file_lists_every_distribution_with_its_licence(tmp_path):
    out = tmp_path / "THIRD-PARTY-LICENSES.txt"
    listed = tpl.write(out)
    text = out.read_text()
    expected = {tpl.key(d.metadata["Name"]) for d in md.distributions()} - tpl.BUILD_ONLY \
        - set(tpl.NOT_BUNDLED)
    assert {tpl.key(n) for n in listed} == expected
    for dist in tpl.bundled_distributions():
        header = f"\n{dist.metadata['Name']} {dist.version}\nLicence: "
        assert header in text, dist.metadata["Name"]
        section = text.split(header, 1)[1].split("\n" + "=" * 78 + "\n", 2)[1]
        assert section.strip(), f"no licence text for {dist.metadata['Name']}"
    # what the LGPL asks: its text and the GPL's, and the libraries left replaceable
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert "replace them with other builds" in text
    assert "Apache License" in text and "Python Software Foundation" in text
    assert not re.search(r"^ale-py \d", text, re.M)  # not among the contents
    assert "ale-py: The Arcade Learning Environment is GPL-2.0-only" in text


def test_the_installers_leave_ale_py_out_and_carry_the_licences_file():
    spec = (ROOT / "packaging" / "explorer.spec").read_text()
    excludes = re.search(r"excludes=\[(.*?)\]", spec, re.S).group(1)
    assert '"ale_py"' in excludes and 'collect_data_files("ale_py")' not in spec
    for script in ("build_linux.sh", "windows/build_windows.ps1", "macos/build_macos.sh"):
        assert "third_party_licences.py" in (ROOT / "packaging" / script).read_text(), script


def test_help_about_and_the_data_readme_credit_what_ships():
    from app.main_window import CREDITS

    for words in ("LeCun", "CC BY-SA 3.0", "danielbuechele", "vultilion", "CC BY 2.0",
                  "Bellemare", "2013", "THIRD-PARTY-LICENSES.txt"):
        assert words in CREDITS, words
    readme = (ROOT / "resources" / "data" / "README.md").read_text()
    assert "danielbuechele" in readme and "vultilion" in readme and "CC BY 2.0" in readme
    assert "Alpaydin" in CREDITS and "Alpaydin" in readme and "CC BY 4.0" in readme
    texts = ROOT / "resources" / "text"
    for words in ("Project Gutenberg", "Python Software Foundation", "Stacks project",
                  "GNU Free Documentation License 1.2"):
        assert words in CREDITS, words
    notes = (texts / "README.md").read_text()
    assert "public domain" in notes.lower() and "PSF License" in notes
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in (texts / "python-LICENSE.txt").read_text()
    assert "GNU Free Documentation License" in (texts / "stacks-project-COPYING.txt"
                                                ).read_text()
