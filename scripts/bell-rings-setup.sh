#!/usr/bin/env bash
# Builds a district for the bell-rings load test (scripts/bell-rings.py) in DIR:
#   DIR/steward.yaml    the student AUP and the monitoring notice from demo/documents, a loopback
#                       sign-in zone (portal: true), DNS and the web service on loopback
#   DIR/roster.csv      PEOPLE students (default 500), deterministic names
#   DIR/passwords.csv   id,password (random), also imported with `steward password import`
#
# Usage: scripts/bell-rings-setup.sh DIR
# Environment: PEOPLE (500), WEB_PORT (8080), DNS_PORT (5354),
#              STEWARD (the binary; default .build/release/steward of this checkout).
#
# The whole recipe, from the repository's root (bell-rings.py waits for the server's /healthz, and
# reads passwords.csv only then, so it may start while the setup is still running):
#   swift build -c release --product steward
#   scripts/bell-rings-setup.sh /tmp/bell && .build/release/steward serve --config /tmp/bell/steward.yaml &
#   scripts/bell-rings.py --base-url http://127.0.0.1:8080 --passwords /tmp/bell/passwords.csv \
#       --database /tmp/bell/data/steward.sqlite --people 500 --spread 60
# Stop the server afterwards with: kill %1 (or its pid).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
steward=${STEWARD:-$root/.build/release/steward}
people=${PEOPLE:-500}
web_port=${WEB_PORT:-8080}
dns_port=${DNS_PORT:-5354}

if [ ! -x "$steward" ]; then
  echo "$steward is missing: build it with 'swift build -c release --product steward' or set STEWARD" >&2
  exit 1
fi
if [ -e "$dir/data" ]; then
  echo "$dir/data exists: the load test checks every signature, so start from an empty district (remove $dir first)" >&2
  exit 1
fi

mkdir -p "$dir/documents"
cp "$root/demo/documents/002_728d9e90706ebcab.txt" "$root/demo/documents/003_748827534ffa6d22.txt" "$dir/documents/"

python3 - "$dir" "$people" <<'PY'
import csv, random, secrets, sys
directory, count = sys.argv[1], int(sys.argv[2])
first = ["Jordan", "Avery", "Maya", "Liam", "Sofia", "Noah", "Zoe", "Ethan", "Chloé", "Mateo", "Aisha", "Lucas",
         "Grace", "Omar", "Ines", "Ravi", "Hannah", "Diego", "Priya", "Sean", "Léa", "Kofi", "Mei", "Tomás"]
last = ["Lee", "Garcia", "Nguyen", "O'Brien", "Smith", "Patel", "Kowalski", "Johnson", "Núñez", "Okafor", "Chen",
        "Martin", "Rossi", "Haddad", "Kim", "Larsen", "Dubois", "Ahmed", "Silva", "Murphy", "Tanaka", "Brown"]
rng = random.Random(20260901)
buildings = ["roosevelt-hs", "jefferson-ms"]
with open(f"{directory}/roster.csv", "w", newline="", encoding="utf-8") as roster, \
     open(f"{directory}/passwords.csv", "w", newline="", encoding="utf-8") as passwords:
    people, secrets_out = csv.writer(roster), csv.writer(passwords)
    people.writerow(["id", "name", "role", "building", "grade", "email"])
    secrets_out.writerow(["id", "password"])
    for index in range(count):
        pid = f"S{10001 + index}"
        name = f"{rng.choice(first)} {rng.choice(last)}"
        building = buildings[index % len(buildings)]
        grade = rng.randint(9, 12) if building == "roosevelt-hs" else rng.randint(6, 8)
        email = f"{pid.lower()}@students.bell.example"
        people.writerow([pid, name, "student", building, grade, email])
        # No commas: `steward password import` splits each line at its first comma only, but keep it plain.
        secrets_out.writerow([pid, secrets.token_urlsafe(12)])
PY

cat >"$dir/steward.yaml" <<YAML
# The bell-rings load test's district (written by scripts/bell-rings-setup.sh).
district:
  name: Bell Rings Unified School District
  timezone: America/New_York
  contact: "Technology Office, help@bell.example"
data-dir: data
documents:
  - id: hps-student-aup
    title: "Hartford Public Schools, Student Acceptable Use and Internet Safety Policy"
    file: documents/002_728d9e90706ebcab.txt
    audience: students
  - id: hamden-4118.5R
    title: "Hamden Public Schools, Regulation 4118.5R and Notice of Electronic Monitoring"
    file: documents/003_748827534ffa6d22.txt
    audience: everyone
roster: roster.csv
groups:
  - {id: students, name: Students, roles: student}
  - {id: unidentified, name: Not yet identified}
zones:
  # Every simulated student comes from its own loopback address (127.0.1.x, 127.0.2.x, ...).
  - id: loopback
    name: This machine
    networks: [127.0.0.0/8]
    building: roosevelt-hs
    default-group: unidentified
    portal: true
policies:
  - rules:
      - id: students-non-educational
        action: block
        match: {groups: [students], domains: [blocked.example]}
        clause:
          document: hps-student-aup
          section: Unacceptable network use by district students
          text: >-
            Non-educational uses of the HPS Network including, but not limited to games, wagering, gambling, junk mail,
            chain letters, jokes, private business activities, raffles, fundraisers, religious activities or political
            lobbying
dns:
  listen: ["127.0.0.1:$dns_port"]
  upstreams: ["127.0.0.1:9"]
  timeout-ms: 300
  attempts: 1
web:
  listen: ["127.0.0.1:$web_port"]
  portal-address: 127.0.0.1
YAML

"$steward" config check --config "$dir/steward.yaml"
echo "setting $people passwords (bcrypt cost 10, one after another: about 60 ms each)..."
time "$steward" password import "$dir/passwords.csv" --config "$dir/steward.yaml"
echo "district ready in $dir: start it with"
echo "  $steward serve --config $dir/steward.yaml"
