"""Settings read at start-up: a value the deployment cannot honour stops the start with a
message naming the variable and its bound, rather than failing later in a sweep."""

import pytest
from pydantic import ValidationError

from kuaichu.settings import Settings

GIB = 1024**3


def test_evidence_larger_than_the_s3_store_can_set_aside_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orphan sweep sets an S3 blob aside with one CopyObject (5 GiB at most): 5 GiB is
    accepted, one byte more is refused, saying which setting and what bound."""
    monkeypatch.setenv("KUAICHU_EVIDENCE_MAX_BYTES", str(5 * GIB))
    assert Settings(_env_file=None).evidence_max_bytes == 5 * GIB

    monkeypatch.setenv("KUAICHU_EVIDENCE_MAX_BYTES", str(5 * GIB + 1))
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    [error] = refused.value.errors()
    assert error["loc"] == ("evidence_max_bytes",)
    assert "less than or equal to 5368709120" in str(refused.value)
