"""The log on disk and ``callwatch verify``: tampering named by position, crashes repaired."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from callwatch.cli import app
from callwatch.ledger.signing import generate
from callwatch.ledger.store import ENTRIES, LEAVES, LedgerBusy, LedgerStore
from streams.ledger.entries import delivery_proposal

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def proposal(i: int):
    return delivery_proposal(
        {"record_id": f"C{i}/commander-notified|log|1", "kind": "delivery", "outcome": "sent",
         "call_id": f"C{i}", "at": "2024-03-01T00:00:00Z"}
    )  # fmt: skip


def make_log(directory: Path, keys: Path, n: int, checkpoint_every: int = 10) -> None:
    signer = (
        generate(keys / "ledger.key", keys / "ledger.pub")
        if not (keys / "ledger.key").exists()
        else None
    )
    from callwatch.ledger.signing import load_signer

    signer = signer or load_signer(keys / "ledger.key", None, source="test")
    store = LedgerStore.open(directory)
    try:
        for start in range(0, n, checkpoint_every):
            store.append(proposal(i) for i in range(start, min(n, start + checkpoint_every)))
            store.checkpoint(signer.sign, "test-log", 1_700_000_000_000 + start)
    finally:
        store.close()


def verify(directory: Path, keys: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "verify",
            "--ledger-dir",
            str(directory),
            "--public-key",
            str(keys / "ledger.pub"),
            *extra,
        ],
    )


N = 30


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ledger")
    make_log(base / "log", base, N)
    return base / "log", base


def tampered_copy(pristine: tuple[Path, Path], tmp: Path, change) -> Path:
    copy = tmp / f"copy{time.monotonic_ns()}"
    shutil.copytree(pristine[0], copy)
    lines = (copy / ENTRIES).read_bytes().split(b"\n")[:-1]
    (copy / ENTRIES).write_bytes(b"".join(line + b"\n" for line in change(lines)))
    return copy


def test_an_untouched_log_verifies_with_proofs(pristine: tuple[Path, Path]) -> None:
    directory, keys = pristine
    result = verify(
        directory,
        keys,
        "--entry",
        "7",
        "--since",
        str(directory / "checkpoints" / "000000000010.txt"),
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {N} entries; checkpoint test-log size {N}")
    assert "extends the checkpoint at 10" in result.output and "entry 7 included" in result.output


EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(position=st.integers(0, N - 1))
def test_verify_names_an_edited_entry(
    pristine: tuple[Path, Path], tmp_path: Path, position: int
) -> None:
    def edit(lines: list[bytes]) -> list[bytes]:
        lines[position] = lines[position].replace(b'"sent"', b'"failed"')
        return lines

    result = verify(tampered_copy(pristine, tmp_path, edit), pristine[1])
    assert result.exit_code == 1
    assert result.output.startswith(f"FAIL: entry {position} changed"), result.output


@EXAMPLES
@given(position=st.integers(0, N - 1))
def test_verify_names_a_deleted_entry(
    pristine: tuple[Path, Path], tmp_path: Path, position: int
) -> None:
    result = verify(
        tampered_copy(pristine, tmp_path, lambda ls: ls[:position] + ls[position + 1 :]),
        pristine[1],
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"FAIL: entry {position} removed"), result.output


@EXAMPLES
@given(position=st.integers(0, N - 2), other=st.integers(1, N - 1))
def test_verify_names_a_reordered_entry(
    pristine: tuple[Path, Path], tmp_path: Path, position: int, other: int
) -> None:
    other = max(other, position + 1)

    def swap(lines: list[bytes]) -> list[bytes]:
        lines[position], lines[other] = lines[other], lines[position]
        return lines

    result = verify(tampered_copy(pristine, tmp_path, swap), pristine[1])
    assert result.exit_code == 1
    assert result.output.startswith(f"FAIL: entry {position} reordered"), result.output


@EXAMPLES
@given(position=st.integers(0, N))
def test_verify_names_an_inserted_entry(
    pristine: tuple[Path, Path], tmp_path: Path, position: int
) -> None:
    forged = b'{"at":null,"id":"delivery/forged","index":0,"kind":"delivery","record":{},"v":1}'
    result = verify(
        tampered_copy(pristine, tmp_path, lambda ls: [*ls[:position], forged, *ls[position:]]),
        pristine[1],
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"FAIL: entry {position} inserted"), result.output


def test_rewriting_the_hashes_too_is_caught_and_bounded_by_the_checkpoints(
    pristine: tuple[Path, Path], tmp_path: Path
) -> None:
    from streams.ledger.verify import leaf_hashes

    def edit(lines: list[bytes]) -> list[bytes]:
        lines[23] = lines[23].replace(b'"sent"', b'"failed"')
        return lines

    copy = tampered_copy(pristine, tmp_path, edit)
    lines = (copy / ENTRIES).read_bytes().split(b"\n")[:-1]
    (copy / LEAVES).write_bytes(b"".join(leaf_hashes(lines)))
    result = verify(copy, pristine[1])
    assert result.exit_code == 1
    assert "FAIL: entry 20 changed: an entry from 20 to 29 differs" in result.output


def test_a_checkpoint_signed_by_another_key_fails(
    pristine: tuple[Path, Path], tmp_path: Path
) -> None:
    generate(tmp_path / "other.key", tmp_path / "other.pub")
    result = runner.invoke(
        app,
        ["verify", "--ledger-dir", str(pristine[0]), "--public-key", str(tmp_path / "other.pub")],
    )
    assert result.exit_code == 1 and "signed by key" in result.output


def test_no_key_is_an_error_for_cron(
    pristine: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLWATCH_LEDGER_PUBLIC_KEY_FILE", raising=False)
    result = runner.invoke(app, ["verify", "--ledger-dir", str(pristine[0])])
    assert result.exit_code == 2


def test_a_second_writer_is_refused_while_the_first_holds_the_log(tmp_path: Path) -> None:
    first = LedgerStore.open(tmp_path / "log")
    try:
        with pytest.raises(LedgerBusy):
            LedgerStore.open(tmp_path / "log")
    finally:
        first.close()
    LedgerStore.open(tmp_path / "log").close()


def test_a_torn_last_entry_is_cut_off_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_log(tmp_path / "log", tmp_path, 12)
    with (tmp_path / "log" / ENTRIES).open("ab") as f:
        f.write(b'{"at":null,"id":"delivery/half')
    store = LedgerStore.open(tmp_path / "log")
    try:
        assert store.recovery.torn_bytes == 30 and store.size == 12
        assert "torn last entry" in caplog.text
        store.append([proposal(99)])
        store.commit()
    finally:
        store.close()
    assert verify(tmp_path / "log", tmp_path).exit_code == 0


APPENDER = """
import sys
from pathlib import Path
from callwatch.ledger.signing import load_signer
from callwatch.ledger.store import LedgerStore
from tests.test_ledger_store import proposal
store = LedgerStore.open(Path(sys.argv[1]))
signer = load_signer(Path(sys.argv[2]), None, source="test")
i = store.size
print("ready", flush=True)
while True:
    store.append(proposal(j) for j in range(i, i + 50))
    store.commit()
    i += 50
    if i % 1000 == 0:
        store.checkpoint(signer.sign, "test-log", 1_700_000_000_000 + i)
"""


def test_a_writer_killed_mid_append_leaves_a_log_that_verifies(tmp_path: Path) -> None:
    make_log(tmp_path / "log", tmp_path, 10)
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(tmp_path / "log"), str(tmp_path / "ledger.key")],
            cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.3 + 0.37 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = LedgerStore.open(tmp_path / "log")  # repairs whatever the kill left
        size = store.size
        store.close()
        assert size > 10
        result = verify(tmp_path / "log", tmp_path)
        assert result.exit_code == 0, result.output
