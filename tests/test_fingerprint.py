"""The engine's exact output, bit for bit, on a few small markets (the guard of speed work).

Each market is run from parameters written out in full in
``tests/baselines/fingerprints.json`` (every field, not just the ones that
differ from the defaults), so a change of default values does not move these
fingerprints: only a change of the engine does. A fingerprint is the SHA-256 of
every daily results array, the prospects per day, the journey log and the
final state of every customer column: any change in a result, in random-number
consumption or in an observer's view shows here. A change of the engine that is
meant to move results regenerates them in the same commit with

    python -m tests.test_fingerprint --write

and says why; an optimisation never does.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cxsim import scenario
from cxsim.params import resolve
from cxsim.run import run_market

FINGERPRINTS = Path(__file__).resolve().parent / "baselines" / "fingerprints.json"

#: (name, scenario, overrides, replication): scenarios, policies and network kinds that
#: exercise every stage's branches (queues, call-backs, reviews, promotions, referral).
MARKETS: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("manage_vs_fix r0", "manage_vs_fix", {}, 0),
    ("manage_vs_fix r3", "manage_vs_fix", {}, 3),
    ("manage_vs_fix scale_free", "manage_vs_fix", {"network.kind": "scale_free"}, 1),
    ("manage_vs_fix random", "manage_vs_fix", {"network.kind": "random"}, 0),
    ("manage_vs_fix fully_mixed", "manage_vs_fix", {"network.kind": "fully_mixed"}, 0),
    (
        "manage_vs_fix journeys",
        "manage_vs_fix",
        {"journey.sample_size": 200, "market.referral_probability": 0.0},
        2,
    ),
    ("account_manager", "account_manager", {}, 0),
    ("dealership", "dealership", {}, 0),
    ("free_delivery_promotion", "free_delivery_promotion", {}, 0),
    ("goodwill_guarantee", "goodwill_guarantee", {}, 0),
    ("quiet_by_wearing_out", "quiet_by_wearing_out", {}, 0),
    ("review_refund", "review_refund", {}, 0),
    ("tarp_repurchase", "tarp_repurchase", {}, 0),
)
#: Small and short enough that all markets run in a few seconds.
SIZE = {"market.customers": 1500, "market.days": 240, "market.seed": 11}


def full_parameters() -> dict[str, dict[str, Any]]:
    """Every market's parameters, every field written out (what ``--write`` records)."""
    out = {}
    for name, source, overrides, _ in MARKETS:
        loaded = scenario.load(source, {**SIZE, **overrides}, check_network_file=False)
        out[name] = loaded.params.model_dump(mode="json")
    return out


def fingerprint(params: dict[str, Any], replication: int) -> str:
    """SHA-256 of a run's daily results, prospects, journey log and final customer columns."""
    market = run_market(resolve(params, label="fingerprint"), replication)
    digest = hashlib.sha256()
    arrays = [market.results.values, market.results.prospects]
    journey = market.journey_frame()
    arrays += [journey[column].to_numpy() for column in journey.columns]
    arrays += [
        value
        for _, value in sorted(vars(market.customers).items())
        if isinstance(value, np.ndarray)
    ]
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return digest.hexdigest()


def _recorded() -> dict[str, Any]:
    if not FINGERPRINTS.exists():
        pytest.fail("no fingerprints: write them with python -m tests.test_fingerprint --write")
    return json.loads(FINGERPRINTS.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "replication"), [(m[0], m[3]) for m in MARKETS])
def test_the_engine_gives_the_recorded_results_bit_for_bit(name: str, replication: int) -> None:
    recorded = _recorded()["markets"][name]
    assert fingerprint(recorded["params"], replication) == recorded["sha256"], (
        f"{name}: the engine's results changed; an optimisation must not change them"
    )


def write() -> None:
    """Regenerate the fingerprints (only for a change meant to move results)."""
    markets = {}
    replications = {m[0]: m[3] for m in MARKETS}
    for name, params in full_parameters().items():
        markets[name] = {
            "replication": replications[name],
            "sha256": fingerprint(params, replications[name]),
            "params": params,
        }
    record = {
        "what": "SHA-256 of daily results, prospects, journeys and final customer columns",
        "regenerate": "python -m tests.test_fingerprint --write",
        "markets": markets,
    }
    FINGERPRINTS.parent.mkdir(parents=True, exist_ok=True)
    FINGERPRINTS.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FINGERPRINTS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.test_fingerprint --write")
    write()
