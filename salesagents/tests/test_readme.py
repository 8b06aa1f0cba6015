"""The README documents every environment variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented():
    settings_text = (ROOT / "salesagents" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in readme)
    assert read, "no variables found: the pattern no longer matches settings.py"
    assert not missing, f"README.md does not document: {missing}"
