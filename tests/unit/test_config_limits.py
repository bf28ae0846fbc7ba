"""Size limits of a config file: alias bombs, huge files and floods of issues stay small and clear.

Issue 17, finding 4: `validate` on a "billion laughs" file reached 1.76 GB, and a 10 MB file of
unknown keys printed 800,003 lines.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.config.loader import MAX_SHOWN_ISSUES, load_config
from agent.config.yamlsource import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_yaml
from agent.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def billion_laughs() -> str:
    """Ten levels of ten aliases each: 10^10 strings once expanded, 110 nodes as written."""
    lines = ["site: {name: plant}", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """The same growth through merge keys: every level merges the previous one twice."""
    lines = ["site: {name: plant}", "m0: &m0 {a: 1, b: 2}"]
    lines += [
        f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 40)
    ]
    return "\n".join(lines) + "\n"


# Run in a fresh interpreter so that the peak is this load's, not the test session's. The peak is the
# process's VmHWM: getrusage's ru_maxrss would not do, as Linux carries the parent's high-water mark
# over fork and exec (a child of a 300 MB pytest reports 300 MB before it does anything).
PEAK_RSS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from agent.config.loader import load_config
    from agent.errors import ConfigError
    try:
        load_config(Path(sys.argv[1]), env={})
    except ConfigError as exc:
        print(exc.issues[0])
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
    """
)


@pytest.mark.parametrize("text", [billion_laughs(), merge_bomb()], ids=["billion laughs", "merge bomb"])
def test_an_alias_bomb_fails_fast_at_its_line_in_bounded_memory(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True, cwd=REPO, check=True
    )
    issue, peak_mb = done.stdout.splitlines()
    assert issue.startswith(f"{path}:")
    assert f"past {MAX_NODES:,} values (an alias bomb?)" in issue
    assert int(peak_mb) < 300, f"loading the bomb peaked at {peak_mb} MB"


def test_the_alias_bomb_error_names_the_alias_that_expands(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    [issue] = load_yaml(path).issues
    # a0..a4 expand to 11,110 values; a5's second alias takes the total past 250,000
    assert (issue.line, issue.path) == (7, "a5[1]")


def test_a_file_over_the_size_limit_is_one_line_without_being_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write("site: {name: plant}\n")
        while out.tell() < 10_000_000:
            out.writelines(f"unknown_key_{i:07d}: 1\n" for i in range(10_000))
    assert path.stat().st_size > MAX_FILE_BYTES
    done = validate(path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{path}:1: file is larger than {MAX_FILE_BYTES // 1024**2} MiB, the limit of a config",
        f"1 problem(s) in {path}",
    ]


def test_many_unknown_keys_print_fifty_issues_and_a_count(tmp_path: Path) -> None:
    path = tmp_path / "flood.yaml"
    keys = "".join(f"unknown_key_{i:05d}: 1\n" for i in range(20_000))
    path.write_text("site: {name: plant}\n" + keys, encoding="utf-8")
    done = validate(path)
    lines = done.stderr.splitlines()
    assert done.returncode == 1
    assert len(lines) == MAX_SHOWN_ISSUES + 2
    assert lines[0] == f"{path}:2: unknown_key_00000: unknown field (check the spelling and the indentation)"
    assert lines[MAX_SHOWN_ISSUES] == "... and 19,950 more problem(s) not shown"
    assert lines[-1] == f"20,000 problem(s) in {path}"


def test_more_values_than_the_limit_is_one_error_at_the_line_reached(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    per_line = 1000
    rows = "".join(f"  - [{', '.join(['1'] * per_line)}]\n" for _ in range(MAX_NODES // per_line + 1))
    path.write_text("site: {name: plant}\nextra:\n" + rows, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    [issue] = info.value.issues
    assert issue.line == 3 + MAX_NODES // per_line - 1  # the row where the count passes the limit
    assert f"more than {MAX_NODES:,} values" in issue.message


def test_nesting_at_the_limit_loads_and_one_deeper_does_not(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    # the top-level mapping and `extra:` are two levels
    path.write_text(f"extra: {'[' * (MAX_DEPTH - 1)}{']' * (MAX_DEPTH - 1)}\n", encoding="utf-8")
    assert load_yaml(path).issues == []
    path.write_text(f"extra: {'[' * MAX_DEPTH}{']' * MAX_DEPTH}\n", encoding="utf-8")
    [issue] = load_yaml(path).issues
    assert (issue.line, issue.message) == (1, f"nested more than {MAX_DEPTH} levels deep")


def test_a_large_real_site_is_well_inside_the_limits(tmp_path: Path) -> None:
    """4,000 devices (the plant benchmark's largest run) load: the limits leave room for real sites."""
    devices = "".join(
        f"  - {{name: d{i:04d}, bus: gw{i // 200}, unit_id: {i % 200 + 1}, profile: eastron/sdm630, "
        f"interval_s: 1.0, tags: {{line: l{i % 7}, cabinet: c{i % 31}}}}}\n"
        for i in range(4000)
    )
    buses = "".join(
        f"  - {{name: gw{b}, type: tcp, host: 127.0.0.1, port: 502, timeout_s: 0.5}}\n" for b in range(20)
    )
    path = tmp_path / "large.yaml"
    path.write_text(f"site: {{name: plant}}\nbuses:\n{buses}devices:\n{devices}", encoding="utf-8")
    assert path.stat().st_size < MAX_FILE_BYTES / 8
    assert len(load_config(path, env={}).config.devices) == 4000


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
