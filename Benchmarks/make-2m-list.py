#!/usr/bin/env python3
"""Writes the synthetic 2,000,000-domain list the `Compile 2M-domain list` and `decide 2M …`
benchmarks read: every UT1 domain name (lists/ut1/*/domains, de-duplicated, bare IPv4 addresses left
out, in sorted order) followed by generated, plausible names until there are exactly 2,000,000
unique names, one per line.

Deterministic (fixed seed): the same file comes out on every machine and every run, so results
are comparable. The benchmarks run this script themselves when the file is missing.

    python3 make-2m-list.py [OUTPUT]        # default: /tmp/steward-bench-2m.txt
"""
import os
import random
import re
import sys

TOTAL = 2_000_000
SEED = 20_251_124
HERE = os.path.dirname(os.path.abspath(__file__))
UT1 = os.path.join(HERE, "..", "lists", "ut1")
DEFAULT_OUTPUT = "/tmp/steward-bench-2m.txt"

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
EDGE = "abcdefghijklmnopqrstuvwxyz0123456789"  # a label neither starts nor ends with '-'
# (TLD, weight): .com dominates as it does in real block lists.
TLDS = [("com", 45), ("net", 12), ("org", 10), ("info", 7), ("ru", 9), ("de", 7), ("io", 5), ("xyz", 5)]
# UT1 `domains` files also list bare IPv4 addresses; Steward files those as addresses, not names.
IPV4 = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
SUBDOMAINS = ["www", "m", "cdn", "api", "img", "static", "mail", "ads", "track", "media", "app", "blog"]


def label(rng: random.Random, low: int, high: int) -> str:
    length = rng.randint(low, high)
    if length == 1:
        return rng.choice(EDGE)
    middle = "".join(rng.choice(ALPHABET) for _ in range(length - 2))
    return rng.choice(EDGE) + middle + rng.choice(EDGE)


def generated(rng: random.Random, tlds: list, weights: list) -> str:
    name = label(rng, 4, 14) + "." + rng.choices(tlds, weights)[0]
    roll = rng.random()
    extra = 2 if roll < 0.05 else 1 if roll < 0.25 else 0  # 20 % one extra label, 5 % two
    for _ in range(extra):
        prefix = rng.choice(SUBDOMAINS) if rng.random() < 0.5 else label(rng, 2, 10)
        name = prefix + "." + name
    return name


def main() -> None:
    output = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT
    seen = set()
    lines = []
    for category in sorted(os.listdir(UT1)):
        path = os.path.join(UT1, category, "domains")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                name = raw.strip().lower()
                if name and not name.startswith("#") and not IPV4.match(name) and name not in seen:
                    seen.add(name)
    lines.extend(sorted(seen))
    if len(lines) > TOTAL:
        sys.exit(f"UT1 alone has {len(lines)} domains, more than {TOTAL}")
    ut1_count = len(lines)
    rng = random.Random(SEED)
    tlds = [tld for tld, _ in TLDS]
    weights = [weight for _, weight in TLDS]
    while len(lines) < TOTAL:
        name = generated(rng, tlds, weights)
        if name not in seen:
            seen.add(name)
            lines.append(name)
    temporary = output + ".partial"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines))
        handle.write("\n")
    os.replace(temporary, output)
    print(f"wrote {output}: {len(lines)} names ({ut1_count} from UT1, {len(lines) - ut1_count} generated)")


if __name__ == "__main__":
    main()
