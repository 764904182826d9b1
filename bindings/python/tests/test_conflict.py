"""resolve_conflict: every reason, determinism, errors."""

from __future__ import annotations

import pytest

import softadastra_sync as sa

LWW = sa.ConflictPolicy.LAST_WRITE_WINS
T = sa.make_stamp(1_700_000_000_000)


@pytest.mark.parametrize(
    "policy, local, local_node, remote, remote_node, expected",
    [
        (LWW, None, "node-a", T, "node-b", (False, True, sa.Reason.NO_LOCAL_ENTRY)),
        (LWW, T, "node-a", T, "node-a", (False, False, sa.Reason.SAME_WRITE)),
        (LWW, T, "node-a", T + 1, "node-a", (False, True, sa.Reason.SAME_ORIGIN_NEWER)),
        (LWW, T + 1, "node-a", T, "node-a", (False, False, sa.Reason.SAME_ORIGIN_OLDER)),
        (LWW, T, "node-a", T + 1, "node-b", (True, True, sa.Reason.REMOTE_WINS)),
        (LWW, T + 1, "node-a", T, "node-b", (True, False, sa.Reason.LOCAL_WINS)),
        # Equal stamps: the greater node id wins.
        (LWW, T, "node-a", T, "node-b", (True, True, sa.Reason.REMOTE_WINS)),
        (LWW, T, "node-b", T, "node-a", (True, False, sa.Reason.LOCAL_WINS)),
        (sa.ConflictPolicy.KEEP_LOCAL, T, "node-a", T + 9, "node-b",
         (True, False, sa.Reason.POLICY_KEEP_LOCAL)),
        (sa.ConflictPolicy.KEEP_REMOTE, T + 9, "node-a", T, "node-b",
         (True, True, sa.Reason.POLICY_KEEP_REMOTE)),
        (sa.ConflictPolicy.KEEP_LOCAL, None, "node-a", T, "node-b",
         (False, True, sa.Reason.NO_LOCAL_ENTRY)),
    ],
)
def test_reasons(policy, local, local_node, remote, remote_node, expected) -> None:
    resolution = sa.resolve_conflict(policy, local, local_node, remote, remote_node)
    assert (resolution.conflict_detected, resolution.apply_remote, resolution.reason) == expected
    assert resolution.keep_local is (not resolution.apply_remote)
    assert resolution.is_valid()
    assert isinstance(resolution.reason, sa.Reason)
    # Deterministic: same inputs, same decision.
    assert sa.resolve_conflict(policy, local, local_node, remote, remote_node) == resolution


def test_plain_int_policy() -> None:
    assert sa.resolve_conflict(3, T, "node-a", T, "node-b").reason == (
        sa.Reason.POLICY_KEEP_REMOTE
    )


def test_errors() -> None:
    with pytest.raises(sa.InvalidArgumentError, match="policy 9"):
        sa.resolve_conflict(9, T, "node-a", T, "node-b")  # type: ignore[arg-type]
    with pytest.raises(sa.InvalidArgumentError, match="out of range"):
        sa.resolve_conflict(2**33, T, "node-a", T, "node-b")  # type: ignore[arg-type]
    with pytest.raises(sa.InvalidNodeIdError, match="node id is empty"):
        sa.resolve_conflict(LWW, T, "", T, "node-b")
    with pytest.raises(sa.InvalidNodeIdError, match="whitespace"):
        sa.resolve_conflict(LWW, T, "node-a", T, "node b")
    with pytest.raises(sa.InvalidNodeIdError):
        sa.resolve_conflict(LWW, T, "node-a", T, "node\x00b")
    # Without a local write there is no local node to check.
    for no_node in ("", None):
        assert sa.resolve_conflict(LWW, None, no_node, T, "node-b").apply_remote
    with pytest.raises(sa.InvalidNodeIdError):
        sa.resolve_conflict(LWW, None, "node-a", T, "node b")
    with pytest.raises(sa.InvalidArgumentError, match="local_stamp"):
        sa.resolve_conflict(LWW, -1, "node-a", T, "node-b")
    with pytest.raises(sa.InvalidArgumentError, match="remote_stamp"):
        sa.resolve_conflict(LWW, T, "node-a", 2**64, "node-b")
    with pytest.raises(TypeError):
        sa.resolve_conflict(LWW, "1", "node-a", T, "node-b")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sa.resolve_conflict("lww", T, "node-a", T, "node-b")  # type: ignore[arg-type]


def test_stamp_helpers() -> None:
    stamp = sa.make_stamp(1_700_000_000_000, 7)
    assert stamp == (1_700_000_000_000 << 16) | 7
    assert sa.stamp_wall_ms(stamp) == 1_700_000_000_000
    assert sa.stamp_logical(stamp) == 7
    with pytest.raises(ValueError):
        sa.make_stamp(1, 1 << 16)
    with pytest.raises(ValueError):
        sa.make_stamp(-1)
    with pytest.raises(ValueError):
        sa.make_stamp(1 << 48)
