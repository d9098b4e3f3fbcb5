"""The install paths agree: pyproject.toml, environment.yml, Makefile and .ci/run."""
import re
import tomllib

import yaml

from sslteach.utils import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python=3.11") for d in conda)
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(p.startswith("-e .") for p in pip), "environment.yml must install the package itself"
    named = {_name(p) for p in pip if not p.startswith("-e")}
    assert named == wanted, f"only in pyproject: {wanted - named}; only in environment.yml: {named - wanted}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1).split()
    assert "make lab" in " ".join(first_block) and "make test" in " ".join(first_block)
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
