"""Start-up: help texts as written, completion scripts, and commands that answer at once."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from cxsim import cli
from cxsim.shipped import shipped_scenarios


def subcommands() -> list[str]:
    parser = cli.build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_the_command_has_the_documented_subcommands() -> None:
    assert {"run", "compare", "validate", "scenarios", "schema", "completion"} <= set(subcommands())


@pytest.mark.parametrize("command", [[], *([c] for c in subcommands())])
def test_every_help_text_prints_percent_signs_as_written(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([*command, "--help"])
    out = capsys.readouterr().out
    assert code == 0
    assert "usage: cxsim" in out
    assert "%%" not in out, out
    assert "%(" not in out, out


def test_compare_help_says_95_percent() -> None:
    parser = cli.build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "with 95% paired-t confidence intervals" in sub.choices["compare"].format_help()


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["completion", "bash"]])
def test_help_version_and_completion_load_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from cxsim.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(sys.argv[1:])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('numpy', 'pandas', 'mesa', 'scipy', 'plotly', 'pydantic') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"{args} imported {out.stdout.strip()}"


def bash_complete(script: str, words: list[str]) -> list[str]:
    """What bash offers for the last of ``words`` with the completion ``script`` loaded."""
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _shtab_cxsim; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.fixture(scope="module")
def bash_script() -> str:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    out = subprocess.run(
        [sys.executable, "-m", "cxsim", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_bash_completes_subcommands_options_and_shipped_scenarios(bash_script: str) -> None:
    assert bash_complete(bash_script, ["cxsim", "com"]) == ["compare", "completion"]
    assert bash_complete(bash_script, ["cxsim", "run", "x", "--se"]) == ["--seed", "--set"]
    names = [p.stem for p in shipped_scenarios()]
    assert "dealership" in names
    assert bash_complete(bash_script, ["cxsim", "run", "dealer"]) == ["dealership"]
    assert bash_complete(bash_script, ["cxsim", "compare", "manage_vs_fix", "quiet_by"]) == [
        "quiet_by_wearing_out"
    ]


def test_zsh_completion_offers_files_and_shipped_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef cxsim")
    assert "_cxsim_scenarios() {" in script
    assert "manage_vs_fix" in script
    if shutil.which("zsh"):
        check = subprocess.run(["zsh", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_completion_for_an_unknown_shell_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["completion", "powershell-7"]) == 2
    assert "invalid choice" in capsys.readouterr().err
