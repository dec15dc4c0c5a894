#!/usr/bin/env python3
"""The bell rings: N students sign in at the captive portal within one minute.

Each simulated person starts at a random moment within the spread, from a loopback source address
of its own (127.0.1.1, 127.0.1.2, ... 127.0.2.1, ...), so the server sees each as a distinct device,
and goes through the portal as a browser would:

    GET  /portal              the csrf hidden field and the steward_portal cookie
    POST /portal/sign-in      csrf, login, password          -> 303 /portal/documents (new cookie)
    GET  /portal/documents    one document to sign (or 303 /portal/done when none is left)
    POST /portal/sign         csrf, document, sha256, agree=yes, typed-name  -> 303 /portal/documents
    ...                       until /portal/documents sends it to /portal/done
    GET  /portal/done         "You are online"

The CSRF token changes at sign-in, so it is read again from every page. Every request is timed.
Afterwards the store (the SQLite file, opened read-only) is checked for lost acknowledgments: each
person must have exactly one signature per document that applies to them, and an open session.

Python 3 standard library only. It waits for the server's /healthz first (--wait-ready), so the
whole recipe, from the repository's root, is:

    swift build -c release --product steward
    scripts/bell-rings-setup.sh /tmp/bell && .build/release/steward serve --config /tmp/bell/steward.yaml &
    scripts/bell-rings.py --base-url http://127.0.0.1:8080 --passwords /tmp/bell/passwords.csv \
        --database /tmp/bell/data/steward.sqlite --people 500 --spread 60

Exit status 0 when every person got online and no acknowledgment was lost, else 1.
"""

import argparse
import csv
import html
import http.client
import random
import re
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')
HIDDEN = re.compile(r'<input type="hidden" name="(document|sha256)" value="([^"]*)">')
LABEL = re.compile(r"Type your full name to sign \((.*?)\)</label>", re.S)


class Failure(Exception):
    pass


class Person:
    def __init__(self, index, pid, password, host, port, timeout):
        self.index = index
        self.pid = pid
        self.password = password
        # 127.0.1.1 ... 127.0.1.250, 127.0.2.1 ...: never 127.0.0.x, where the server itself lives.
        self.source = f"127.0.{1 + index // 250}.{1 + index % 250}"
        self.host, self.port, self.timeout = host, port, timeout
        self.cookie = None
        self.connection = None
        self.timings = []  # (step, milliseconds)
        self.signed = 0

    def connect(self):
        self.connection = http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout, source_address=(self.source, 0))

    def request(self, step, method, path, fields=None):
        """One request on this person's keep-alive connection (reopened once if the server closed it)."""
        body = urllib.parse.urlencode(fields) if fields is not None else None
        headers = {"User-Agent": "bell-rings/1.0 (load test)", "Accept": "text/html"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            headers["Cookie"] = f"steward_portal={self.cookie}"
        for attempt in (1, 2):
            if self.connection is None:
                self.connect()
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise Failure(f"{method} {path}: {error!r}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            self.timings.append((step, elapsed))
            for header, value in response.getheaders():
                if header.lower() == "set-cookie" and value.startswith("steward_portal="):
                    self.cookie = value.split(";", 1)[0].split("=", 1)[1] or None
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = None
            return response.status, response.getheader("Location"), data.decode("utf-8", "replace")
        raise Failure("unreachable")

    @staticmethod
    def location_path(location):
        return urllib.parse.urlsplit(location or "").path

    def run(self):
        status, _, page = self.request("GET /portal", "GET", "/portal")
        if status != 200:
            raise Failure(f"GET /portal: {status}")
        csrf = CSRF.search(page)
        if not csrf or not self.cookie:
            raise Failure("GET /portal: no csrf field or no steward_portal cookie")
        status, location, page = self.request(
            "POST /portal/sign-in", "POST", "/portal/sign-in",
            {"csrf": html.unescape(csrf.group(1)), "login": self.pid, "password": self.password})
        if status != 303 or self.location_path(location) != "/portal/documents":
            raise Failure(f"POST /portal/sign-in: {status} {location} {first_error(page)}")
        for _ in range(20):
            status, location, page = self.request("GET /portal/documents", "GET", "/portal/documents")
            if status == 303 and self.location_path(location) == "/portal/done":
                break
            if status != 200:
                raise Failure(f"GET /portal/documents: {status} {location} {first_error(page)}")
            csrf = CSRF.search(page)
            hidden = dict(HIDDEN.findall(page))
            label = LABEL.search(page)
            if not csrf or "document" not in hidden or "sha256" not in hidden or not label:
                raise Failure("GET /portal/documents: the signing form is incomplete")
            status, location, page = self.request(
                "POST /portal/sign", "POST", "/portal/sign",
                {"csrf": html.unescape(csrf.group(1)), "document": html.unescape(hidden["document"]),
                 "sha256": html.unescape(hidden["sha256"]), "agree": "yes",
                 "typed-name": html.unescape(label.group(1))})
            if status != 303 or self.location_path(location) != "/portal/documents":
                raise Failure(f"POST /portal/sign: {status} {location} {first_error(page)}")
            self.signed += 1
        else:
            raise Failure("more than 20 documents to sign")
        status, _, page = self.request("GET /portal/done", "GET", "/portal/done")
        if status != 200 or "You are online" not in page:
            raise Failure(f"GET /portal/done: {status} {first_error(page)}")

    def close(self):
        if self.connection is not None:
            self.connection.close()


def first_error(page):
    match = re.search(r'<p class="error"[^>]*>(.*?)</p>', page or "", re.S)
    return html.unescape(match.group(1)) if match else ""


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def summary(values):
    return (f"n={len(values):5d}  p50 {percentile(values, .50):7.1f}  p95 {percentile(values, .95):7.1f}  "
            f"p99 {percentile(values, .99):7.1f}  max {max(values) if values else float('nan'):7.1f} ms")


def audience_includes(token, role):
    token = token.strip().lower()
    if token == "everyone":
        return True
    if token == "staff":
        return role not in ("student", "guest")
    if token in ("students", "student"):
        return role == "student"
    if token in ("guests", "guest", "visitors"):
        return role == "guest"
    return token == role


def check_store(path, people):
    """No lost acknowledgment: every person has exactly one signature per applicable document, and a session."""
    database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    documents = database.execute(
        "SELECT d.id, d.audience FROM documents d WHERE d.acknowledge = 1 "
        "AND EXISTS (SELECT 1 FROM document_versions v WHERE v.document_id = d.id)").fetchall()
    problems = []
    for person in people:
        row = database.execute("SELECT role FROM people WHERE id = ?", (person.pid,)).fetchone()
        if row is None:
            problems.append(f"{person.pid}: not in the store")
            continue
        role = row[0]
        expected = sorted(d for d, audience in documents if any(audience_includes(t, role) for t in audience.split(",")))
        signed = sorted(r[0] for r in database.execute(
            "SELECT document_id FROM acknowledgments WHERE person_id = ?", (person.pid,)))
        if signed != expected:
            problems.append(f"{person.pid}: signed {signed}, expected {expected}")
        sessions = database.execute(
            "SELECT address FROM sessions WHERE person_id = ?", (person.pid,)).fetchall()
        if [s[0] for s in sessions] != [person.source]:
            problems.append(f"{person.pid}: sessions {[s[0] for s in sessions]}, expected [{person.source}]")
    count, last = database.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM acknowledgments").fetchone()
    if count != last:
        problems.append(f"the acknowledgment chain has {count} rows but its last seq is {last}")
    database.close()
    return problems, len(documents)


def wait_until_ready(host, port, seconds):
    """Waits for GET /healthz to answer 200 (so the recipe may start the server and this script together)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
            connection.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"http://{host}:{port}/healthz did not answer within {seconds:.0f} s")
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080", help="the portal (default %(default)s)")
    parser.add_argument("--passwords", required=True, help="CSV of id,password (scripts/bell-rings-setup.sh writes one)")
    parser.add_argument("--people", type=int, default=0, help="how many people (default: every row of the CSV)")
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which people start (default 60)")
    parser.add_argument("--concurrency", type=int, default=200,
                        help="at most this many people in the portal at once (default 200)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.add_argument("--database", help="the store's SQLite file, checked read-only for lost acknowledgments")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the start times (default 1)")
    parser.add_argument("--wait-ready", type=float, default=120.0,
                        help="seconds to wait for the server's /healthz before starting (default 120)")
    arguments = parser.parse_args()

    base = urllib.parse.urlsplit(arguments.base_url)
    if base.scheme != "http" or not base.hostname:
        sys.exit("--base-url must be http://HOST[:PORT]")
    wait_until_ready(base.hostname, base.port or 80, arguments.wait_ready)
    with open(arguments.passwords, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.reader(file) if row and row[0].lower() != "id"]
    if arguments.people:
        if arguments.people > len(rows):
            sys.exit(f"{arguments.passwords} has only {len(rows)} people")
        rows = rows[:arguments.people]
    if len(rows) > 250 * 254:
        sys.exit("at most 63,500 people (one loopback address each)")
    people = [Person(i, row[0], row[1], base.hostname, base.port or 80, arguments.timeout) for i, row in enumerate(rows)]
    rng = random.Random(arguments.seed)
    starts = sorted(((rng.uniform(0, arguments.spread), i) for i in range(len(people))))

    errors = []
    late = []  # seconds a person waited beyond its start time for a free worker
    lock = threading.Lock()
    began = time.perf_counter()
    finished = {}

    def visit(person, start):
        delay = time.perf_counter() - began - start
        try:
            person.run()
            outcome = None
        except Failure as failure:
            outcome = str(failure)
        except Exception as error:  # a timeout, a refused connection: counted, never fatal
            outcome = f"{type(error).__name__}: {error}"
        finally:
            person.close()
        with lock:
            late.append(max(0.0, delay))
            finished[person.pid] = time.perf_counter() - began - start
            if outcome:
                errors.append(f"{person.pid} ({person.source}): {outcome}")

    print(f"{len(people)} people over {arguments.spread:.0f} s against {arguments.base_url}, "
          f"at most {arguments.concurrency} at once", flush=True)
    with ThreadPoolExecutor(max_workers=arguments.concurrency) as pool:
        for start, index in starts:
            wait = start - (time.perf_counter() - began)
            if wait > 0:
                time.sleep(wait)
            pool.submit(visit, people[index], start)
    wall = time.perf_counter() - began

    by_step = defaultdict(list)
    for person in people:
        for step, elapsed in person.timings:
            by_step[step].append(elapsed)
    every = [elapsed for values in by_step.values() for elapsed in values]
    print(f"people: {len(people)}, completed: {len(people) - len(errors)}, errors: {len(errors)}")
    print(f"requests: {len(every)}, signatures posted: {sum(p.signed for p in people)}")
    print(f"page time, every request:   {summary(every)}")
    for step in ("GET /portal", "POST /portal/sign-in", "GET /portal/documents", "POST /portal/sign", "GET /portal/done"):
        print(f"  {step:24s} {summary(by_step.get(step, []))}")
    durations = [seconds * 1000 for seconds in finished.values()]
    print(f"per person, start to online: {summary(durations)}")
    print(f"waited for a worker: max {max(late) if late else 0:.2f} s")
    print(f"total wall time: {wall:.1f} s")
    for error in errors[:20]:
        print(f"  error: {error}")
    if len(errors) > 20:
        print(f"  ... and {len(errors) - 20} more")

    lost = None
    if arguments.database:
        problems, documents = check_store(arguments.database, people)
        lost = len(problems)
        print(f"store check ({documents} documents to sign): "
              + ("no lost acknowledgment; every person has one signature per document and a session"
                 if not problems else f"{len(problems)} problems"))
        for problem in problems[:20]:
            print(f"  {problem}")
    sys.exit(1 if errors or lost else 0)


if __name__ == "__main__":
    main()
