"""sslteach.registry: every file shipped in data/ is registered, matches its sha256, and is listed
with the same digest in data/README.md."""
import re
from pathlib import Path

from sslteach import data
from sslteach.registry import SHA256

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_registered_file_matches_its_sha256():
    for name in SHA256:
        assert data.data_file(name).is_file()          # data_file checks the digest


def test_every_shipped_file_is_registered():
    shipped = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file() and p.name != "README.md"}
    assert shipped - set(SHA256) == set(), "shipped but not registered in sslteach/registry.py"


def test_data_readme_lists_the_same_digests():
    listed = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$",
                                                                (DATA / "README.md").read_text(), re.M))
    assert listed == SHA256
