#!/usr/bin/env python3
"""Writes demo/roster.csv: a synthetic roster for the demo district (deterministic, seed 2026).

Three buildings (lincoln-es K-5, jefferson-ms 6-8, roosevelt-hs 9-12), about 110 students each,
staff of every role, one revoked student and one inactive staff member. Names are invented.
"""
import csv
import os
import random

FIRST = ["Ava", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sophia", "Elijah", "Isabella", "Lucas", "Mia",
         "Mason", "Amelia", "Ethan", "Harper", "Aiden", "Evelyn", "Logan", "Abigail", "Jackson", "Emily",
         "Sebastian", "Ella", "Jack", "Aaliyah", "Owen", "Camila", "Samuel", "Luna", "Diego", "Zoe", "Ibrahim",
         "Priya", "Wei", "Yusuf", "Fatima", "Kwame", "Nia", "Hiroshi", "Ana", "José", "Zoë", "Seán", "Chloé"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Nguyen",
        "Patel", "Kim", "O'Brien", "Okafor", "Kowalski", "Rossi", "Müller", "Dubois", "Haddad"]
BUILDINGS = [("lincoln-es", ["KG", "1", "2", "3", "4", "5"]), ("jefferson-ms", ["6", "7", "8"]),
             ("roosevelt-hs", ["9", "10", "11", "12"])]


def main():
    rng = random.Random(2026)
    rows = []
    number = 10001
    for building, grades in BUILDINGS:
        for i in range(110):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            grade = grades[i % len(grades)]
            sid = f"S{number}"
            rows.append([sid, f"{first} {last}", "student", building, grade,
                         f"{first.lower()}.{last.lower().replace(' ', '')}{number % 1000}@students.demo-usd.example",
                         "active", "", ""])
            number += 1
    staff_roles = ["teacher"] * 10 + ["aide"] * 2 + ["administrator", "staff"]
    number = 2001
    for building, _ in BUILDINGS:
        for role in staff_roles:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            rows.append([f"T{number}", f"{first} {last}", role, building, "",
                         f"{first.lower()}.{last.lower()}@demo-usd.example", "active", "", ""])
            number += 1
    for role in ["administrator", "staff", "staff"]:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append([f"T{number}", f"{first} {last}", role, "district-office", "",
                     f"{first.lower()}.{last.lower()}@demo-usd.example", "active", "", ""])
        number += 1
    # A revoked student (R13) and a staff member who left (inactive).
    rows[150][6:9] = ["revoked", "2026-12-15", "Cyberbullying incident IR-2026-031; principal's decision of 2026-11-02"]
    rows[-5][6] = "inactive"
    # Fixed, easy-to-remember people for the README and tests.
    rows.insert(0, ["S00001", "Alex Rivera", "student", "roosevelt-hs", "10", "alex.rivera@students.demo-usd.example",
                    "active", "", ""])
    rows.insert(1, ["S00002", "Bea Chen", "student", "lincoln-es", "3", "bea.chen@students.demo-usd.example",
                    "active", "", ""])
    rows.insert(2, ["T00001", "Dana Okafor", "teacher", "jefferson-ms", "", "dana.okafor@demo-usd.example",
                    "active", "", ""])
    rows.insert(3, ["S00003", "Casey Morgan", "student", "jefferson-ms", "7", "casey.morgan@students.demo-usd.example",
                    "revoked", "2027-01-31", "Repeated attempts to bypass the filter; assistant principal's decision"])
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo", "roster.csv")
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "role", "building", "grade", "email", "status", "revoked-until", "revoked-reason"])
        w.writerows(rows)
    print(f"wrote {len(rows)} people to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
