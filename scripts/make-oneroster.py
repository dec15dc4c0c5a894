#!/usr/bin/env python3
"""A synthetic district in OneRoster 1.1 CSV, for measuring `steward import oneroster`.

Usage: make-oneroster.py PEOPLE DIR [--moved-every N] [--leaving N]
Writes manifest.csv, orgs.csv (a district and 40 schools), users.csv (one teacher in 20) and
enrollments.csv (one per person) into DIR.
"""
import argparse, csv, os

parser = argparse.ArgumentParser()
parser.add_argument("people", type=int)
parser.add_argument("dir")
parser.add_argument("--moved-every", type=int, default=0)
parser.add_argument("--leaving", type=int, default=0)
args = parser.parse_args()
os.makedirs(args.dir, exist_ok=True)
schools = 40

def write(name, header, rows):
    with open(os.path.join(args.dir, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)

write("manifest.csv", ["propertyName", "value"], [
    ["manifest.version", "1.0"], ["oneroster.version", "1.1"], ["file.orgs", "bulk"], ["file.users", "bulk"],
    ["file.enrollments", "bulk"], ["file.academicSessions", "absent"], ["file.classes", "absent"]])
write("orgs.csv", ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
      [["district", "", "", "Synthetic District", "district", "SD", ""]] +
      [[f"school-{s}", "", "", f"School {s}", "school", f"sch-{s}", "district"] for s in range(schools)])
users, enrollments = [], []
for i in range(args.leaving, args.people):
    teacher = i % 20 == 0
    school = i % schools
    if args.moved_every and not teacher and i % args.moved_every == 0:
        school = (school + 1) % schools
    role = "teacher" if teacher else "student"
    users.append([f"p-{i}", "", "", "true", f"school-{school}", role, f"user{i}", f"{{SIS:{100000 + i}}}",
                  f"Given{i}", f"Family{i}", "", str(100000 + i), f"user{i}@sd.example", "", "", "",
                  "" if teacher else f"{i % 12 + 1:02d}", ""])
    enrollments.append([f"e-{i}", "", "", f"class-{school}-{i % 30}", f"school-{school}", f"p-{i}", role, "true",
                        "2026-08-27", "2027-06-15"])
write("users.csv", ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
                    "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
                    "agentSourcedIds", "grades", "password"], users)
write("enrollments.csv", ["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
                          "userSourcedId", "role", "primary", "beginDate", "endDate"], enrollments)
