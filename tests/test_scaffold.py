"""cxsim new: a commented scenario file with every parameter, which loads back exactly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cxsim import cli, scaffold, scenario
from cxsim.params import ModelParams, field_info, field_paths
from cxsim.shipped import shipped_scenarios
from cxsim.version import WORLD_VERSION


def new(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = cli.main(["new", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_new_scenario_loads_to_exactly_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = new(capsys, tmp_path / "my_market")
    assert code == 0
    written = tmp_path / "my_market.toml"
    assert out.startswith(f"wrote {written}")
    loaded = scenario.load(written)
    assert loaded.params.model_dump() == ModelParams().model_dump()
    assert loaded.description.startswith("my_market: ")


@pytest.mark.parametrize("story", [p.stem for p in shipped_scenarios()])
def test_a_scenario_from_a_story_loads_to_exactly_the_storys_parameters(
    story: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = new(capsys, tmp_path / "mine", "--from", story)
    assert code == 0, err
    text = (tmp_path / "mine.toml").read_text(encoding="utf-8")
    assert scenario.load(tmp_path / "mine.toml").params == scenario.load(story).params
    assert f"# The story {story} says:" in text
    assert f"#   {scenario.load(story).description}" in text


def test_every_parameter_is_written_with_its_description_and_what_it_accepts() -> None:
    text = scaffold.scenario_text(name="x")
    data = tomllib.loads(text)
    lines = text.splitlines()
    for path in field_paths():
        table, _, name = path.rpartition(".")
        info = field_info(path)
        header = table.replace(".N", "")
        header = f"[[{header}]]" if table.endswith(".N") else f"[{header}]"
        start = next(i for i, line in enumerate(lines) if line.lstrip("# ") == header)
        # set as a value, or shown commented out (promotions, unset optional values)
        where = [
            i
            for i, line in enumerate(lines)
            if i > start and line.lstrip("# ").startswith(f"{name} =")
        ]
        assert where, path
        above = "\n".join(lines[max(0, where[0] - 8) : where[0]])
        first_words = " ".join((info.description or "").split()[:4])
        assert first_words in " ".join(above.replace("# ", "").split()), path
        assert any(
            word in lines[where[0] - 1]
            for word in ("a number", "a whole number", "true or false", "text", "one of:")
        ), (path, lines[where[0] - 1])
    assert data["world"] == WORLD_VERSION
    assert [c["name"] for c in data["companies"]] == ["managing", "fixing"]


def test_bounds_are_written_as_the_schema_states_them() -> None:
    text = scaffold.scenario_text(name="x")
    assert "# a whole number, ≥ 2, ≤ 50,000,000\ncustomers = 10_000" in text
    assert "# one of: immediate | fifo_queue\nhandling = " in text


def test_a_story_value_that_differs_from_the_default_says_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new(capsys, tmp_path / "mine", "--from", "manage_vs_fix")[0] == 0
    text = (tmp_path / "mine.toml").read_text(encoding="utf-8")
    assert "; default 10_000\ncustomers = 20_000" in text


def test_new_never_replaces_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "mine.toml"
    existing.write_text("# mine\n[market]\ncustomers = 5\n", encoding="utf-8")
    code, out, err = new(capsys, tmp_path / "mine")
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"{existing}: exists; cxsim new never replaces a file (choose another name, or remove it)"
    ]
    assert existing.read_text(encoding="utf-8") == "# mine\n[market]\ncustomers = 5\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["mine", "--from", "dealrship"], "dealrship: no such scenario file; did you mean dealership?"),
        (["no_such_folder/mine"], "no_such_folder/mine.toml: the folder no_such_folder does not exist"),
        ([".toml"], ".toml: expected a scenario name"),
    ],
)  # fmt: skip
def test_bad_input_to_new_is_one_line_exit_2_and_nothing_written(
    args: list[str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = new(capsys, *args)
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(says), err
    assert list(tmp_path.iterdir()) == []


def test_a_name_with_its_extension_is_not_doubled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new(capsys, tmp_path / "mine.toml")[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["mine.toml"]


def test_a_storys_network_file_is_found_from_the_new_files_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story_dir, new_dir = tmp_path / "stories", tmp_path / "mine"
    story_dir.mkdir()
    new_dir.mkdir()
    (story_dir / "contacts.edgelist").write_text(
        "\n".join(f"{i} {(i + 1) % 50}" for i in range(50)) + "\n", encoding="utf-8"
    )
    (story_dir / "net.toml").write_text(
        '# a net\n[market]\ncustomers = 50\n[network]\nkind = "file"\npath = "contacts.edgelist"\n',
        encoding="utf-8",
    )
    assert new(capsys, new_dir / "copy", "--from", story_dir / "net.toml")[0] == 0
    loaded = scenario.load(new_dir / "copy.toml")  # reads and checks the network file
    assert scenario.network_path(loaded).resolve() == (story_dir / "contacts.edgelist").resolve()


def test_writing_without_replacing_leaves_an_existing_file_and_no_temporary(
    tmp_path: Path,
) -> None:
    from cxsim.files import atomic_write_text

    target = tmp_path / "a.toml"
    atomic_write_text(target, "first\n", replace=False)
    with pytest.raises(FileExistsError):
        atomic_write_text(target, "second\n", replace=False)
    assert target.read_text(encoding="utf-8") == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.toml"]
