"""Check: the analytics snapshot a world was built with equals, row for row, what this code computes (issue 10).

On a copy of a bench/scale.py world (CREATE DATABASE ... TEMPLATE), it reads every StoreScore,
AccountScore and PotentialModelFit row of the world's last run (as_of D-1, computed by the code
that built the world) and the visits' suspect flags, recomputes the same as_of with this code, in
one task and then split over --parts groups of regions (the chord's steps in this process), and
compares every column of every row for exact equality (floats bit for bit, NaN equal to NaN).

    .venv/bin/python bench/identical.py --database-url postgres://postgres@127.0.0.1:5432/kacrm_scale20k
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/kacrm_scale20k")
    parser.add_argument("--parts", type=int, default=4)
    return parser.parse_args()


def snapshot(as_of) -> dict:
    from analytics.models import AccountScore, PotentialModelFit, StoreScore
    from stores.models import StoreVisit

    def rows(model, key):
        return {r[key]: {k: v for k, v in r.items() if k != "id"} for r in model.objects.filter(as_of=as_of).values()}

    return {
        "store scores": rows(StoreScore, "store_id"),
        "account scores": rows(AccountScore, "account_id"),
        "model fit": rows(PotentialModelFit, "as_of"),
        "suspect flags": {pair: {} for pair in StoreVisit.objects.filter(suspect=True).values_list("store_id", "date")},
    }


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def compare(name: str, before: dict, after: dict) -> int:
    mismatches = 0
    for table, rows in before.items():
        other = after[table]
        missing, extra = rows.keys() - other.keys(), other.keys() - rows.keys()
        differing = [k for k in rows.keys() & other.keys() if not same(rows[k], other[k])]
        mismatches += len(missing) + len(extra) + len(differing)
        print(f"  {name:<22} {table:<15} {len(rows):>8,} rows: {len(missing)} missing, {len(extra)} extra, "
              f"{len(differing)} differing")
        for key in differing[:3]:
            print(f"    {key}: " + ", ".join(
                f"{f}: {rows[key][f]!r} -> {other[key][f]!r}" for f in rows[key] if not same(rows[key][f], other[key][f])
            ))
    return mismatches


def main():
    args = parse_args()
    from nightly import copy_world, drop, environment

    url = copy_world(args.database_url)
    os.environ.update(environment(url, "redis://127.0.0.1:6379/9"))
    os.environ.pop("REDIS_URL")  # nothing is queued: the comparison runs no alert evaluation
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Max

    from analytics import services
    from analytics.models import StoreScore

    try:
        call_command("migrate", verbosity=0)
        as_of = StoreScore.objects.aggregate(day=Max("as_of"))["day"]
        built = snapshot(as_of)
        print(f"as_of {as_of}: the world's snapshot against this code's")
        services.recompute(as_of=as_of)
        mismatches = compare("one task", built, snapshot(as_of))
        groups = services.split_regions(args.parts)
        run = services.start_split(groups=groups, as_of=as_of)
        for part, group in enumerate(groups):
            services.observe_part(run.pk, part, group)
        services.score_parts(run.pk)
        mismatches += compare(f"split in {len(groups)} parts", built, snapshot(as_of))
    finally:
        connections.close_all()
        drop(url)
    print("identical" if not mismatches else f"{mismatches} rows differ")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
