#!/usr/bin/env python3
"""POST visits to a running KA CRM through /api/v1/visits/bulk/ and print the throughput.

Standalone (stdlib only): it talks to the server over HTTP like any internal system would.
With --database-url (psycopg needed; the project's .venv has it) it plans its batches from the
visits already in that database: new visits on days the stores have none, and a few corrections.
See bench/README.md for a PostgreSQL + gunicorn run.
"""
import argparse
import concurrent.futures
import datetime as dt
import json
import random
import statistics
import sys
import time
import urllib.error
import urllib.request


def call(url, *, token=None, body=None, timeout=300):
    """(status, decoded JSON body) of one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw[:300].decode(errors="replace")


def fetch_token(base, user, password):
    status, answer = call(f"{base}/api/v1/auth/token/", body={"username": user, "password": password})
    if status != 200:
        sys.exit(f"Token request failed ({status}): {answer}")
    return answer["token"]


def fetch_store_codes(base, token, limit):
    """Codes of the active stores the user may log visits for, in code order, at most `limit` (0: all)."""
    codes, url = [], f"{base}/api/v1/stores/?page_size=1000&active=true"
    while url and (not limit or len(codes) < limit):
        status, page = call(url, token=token)
        if status != 200:
            sys.exit(f"Store list failed ({status}): {page}")
        codes += [store["code"] for store in page["results"]]
        url = page["next"]
    return codes[:limit] if limit else codes


def make_visits(codes, *, visits, last_day, seed=1):
    """`visits` items with unique (store, date): each round of stores goes one day further back."""
    rng = random.Random(seed)
    items = []
    for k in range(visits):
        total = rng.randint(20, 400)
        items.append({
            "store": codes[k % len(codes)],
            "date": (last_day - dt.timedelta(days=k // len(codes))).isoformat(),
            "total_sales": total,
            "own_sales": rng.randint(0, total // 2),
            "display_ok": rng.choice([True, False, None]),
            "promotion_ok": rng.choice([True, False, None]),
            "staff_ok": rng.choice([True, False, None]),
            "notes": "bench" if k % 10 == 0 else "",
        })
    return items


def plan_from_world(database_url, codes, *, wanted, corrections, last_day, seed=1):
    """`wanted` (item, is_new) for a database that already holds visits.

    Days go back from `last_day`; on each day the stores without a visit (in code order) get a new
    visit, and after a `corrections` fraction of them comes a correction of one of the day's stored
    visits: the same item with another total, as a late fix from the till would arrive.
    """
    import psycopg  # only this mode needs it

    rng = random.Random(seed)
    planned = []
    with psycopg.connect(database_url) as conn:
        ids = dict(conn.execute("SELECT code, id FROM stores_store WHERE code = ANY(%s)", [codes]).fetchall())
        code_of = {pk: code for code, pk in ids.items()}
        day = last_day
        while len(planned) < wanted:
            if day.year < 2000:
                sys.exit(f"The world has only {len(planned)} free (store, day) cells; ask for fewer --visits.")
            stored = {
                row[0]: row[1:] for row in conn.execute(
                    "SELECT store_id, total_sales, own_sales, display_ok, promotion_ok, staff_ok, notes "
                    "FROM stores_storevisit WHERE date = %s AND store_id = ANY(%s)", [day, list(code_of)],
                )
            }
            to_correct = sorted(code_of[pk] for pk in stored)
            rng.shuffle(to_correct)
            for code in sorted(ids):
                if len(planned) >= wanted:
                    break
                if ids[code] in stored:
                    continue
                total = rng.randint(20, 400)
                planned.append(({
                    "store": code, "date": day.isoformat(), "total_sales": total,
                    "own_sales": rng.randint(0, total // 2),
                    "display_ok": rng.choice([True, False, None]), "promotion_ok": rng.choice([True, False, None]),
                    "staff_ok": rng.choice([True, False, None]), "notes": "bench" if rng.random() < 0.1 else "",
                }, True))
                if to_correct and len(planned) < wanted and rng.random() < corrections:
                    fixed = to_correct.pop()
                    total, own, display, promotion, staff, notes = stored[ids[fixed]]
                    planned.append(({
                        "store": fixed, "date": day.isoformat(), "total_sales": total + rng.randint(1, 20),
                        "own_sales": own, "display_ok": display, "promotion_ok": promotion, "staff_ok": staff,
                        "notes": notes,
                    }, False))
            day -= dt.timedelta(days=1)
    return planned


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def post_batch(url, token, items):
    started = time.perf_counter()
    status, answer = call(url, token=token, body=items)
    return status, answer, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", required=True, help="an analyst, admin, supervisor or rep who may log visits")
    parser.add_argument("--password", required=True)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="visits per request (the API takes at most 5000)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--stores", type=int, default=0, help="use the first N store codes (default: all visible)")
    parser.add_argument("--warmup", type=int, default=8,
                        help="batches sent first and not timed, so every server worker has loaded its code (default 8)")
    parser.add_argument("--database-url", help="the server's database, read only: plan new visits on its free "
                        "(store, day) cells and corrections of its stored visits (psycopg needed)")
    parser.add_argument("--corrections", type=float, default=0.03,
                        help="with --database-url: corrections per new visit (default 0.03)")
    args = parser.parse_args()
    base = args.url.rstrip("/")

    token = fetch_token(base, args.user, args.password)
    codes = fetch_store_codes(base, token, args.stores)
    if not codes:
        sys.exit("No active store visible to this user; run `manage.py seed_demo` first.")
    # Yesterday, server time unknown: stay a day clear of "the date cannot be in the future".
    last_day = dt.date.today() - dt.timedelta(days=1)
    # Warm-up batches take the oldest days, so no (store, date) repeats in the timed part.
    wanted, expected = args.visits + args.warmup * args.batch, None
    if args.database_url:
        planned = plan_from_world(args.database_url, codes, wanted=wanted, corrections=args.corrections,
                                  last_day=last_day)
        items = [item for item, _new in planned]
        created = sum(1 for _item, new in planned[: args.visits] if new)
        expected = {"created": created, "updated": min(args.visits, len(planned)) - created}
    else:
        items = make_visits(codes, visits=wanted, last_day=last_day)
    batches, warmup = chunks(items[: args.visits], args.batch), chunks(items[args.visits :], args.batch)
    first_day = min(item["date"] for item in items[: args.visits])
    print(f"{args.visits} visits over {len(codes)} stores, {first_day} to {last_day}, "
          f"{len(batches)} batches of {args.batch}, {args.threads} threads -> {base}"
          + (f" (planned from the database: {expected['created']} new, {expected['updated']} corrections)"
             if expected else ""))

    url = f"{base}/api/v1/visits/bulk/"
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.threads) as pool:
        for status, answer, _ in pool.map(lambda items: post_batch(url, token, items), warmup):
            if status != 200:
                sys.exit(f"Warm-up batch failed ({status}): {str(answer)[:300]}")
    latencies, failures, stored, created, updated = [], [], 0, 0, 0
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.threads) as pool:
        results = pool.map(lambda items: post_batch(url, token, items), batches)
        for items, (status, answer, seconds) in zip(batches, results):
            latencies.append(seconds)
            if status == 200:
                stored += len(items)
                created += answer["created"]
                updated += answer["updated"]
            else:
                failures.append((status, answer))
    elapsed = time.perf_counter() - started

    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"{stored / elapsed:,.0f} visits/s ({stored} visits stored in {elapsed:.2f} s)")
    print(f"batches: {len(batches)}, errors: {len(failures)}, created: {created}, updated: {updated}")
    print(f"batch latency: p50 {cuts[49] * 1000:.0f} ms, p95 {cuts[94] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    for status, answer in failures[:3]:
        print(f"  error {status}: {str(answer)[:300]}")

    status, answer, seconds = post_batch(url, token, batches[0])
    print(f"re-send of batch 1: {status} {answer} in {seconds * 1000:.0f} ms")
    unexpected = expected is not None and {"created": created, "updated": updated} != expected
    if unexpected:
        print(f"expected created {expected['created']}, updated {expected['updated']}")
    if failures or unexpected or status != 200 or answer != {"created": 0, "updated": 0}:
        sys.exit(1)


if __name__ == "__main__":
    main()
