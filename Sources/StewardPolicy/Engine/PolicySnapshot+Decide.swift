/// The decision procedure. Precedence, highest first (documented in the README):
/// 1. an inactive account is blocked; a revoked one is blocked until its end date (R13);
/// 2. a "work only" group blocks personal-use categories (R20);
/// 3. the rules, in order: the first whose every condition holds decides, unless the subject is in
///    one of its excepted groups or is one of its excepted people (then the next rule is tried);
/// 4. otherwise the policy's default action;
/// 5. then the CIPA safeguard (R1): a destination in a CIPA category is blocked unless the decision
///    already blocks, or an identified adult is allowed by a rule that names that category.
/// Pure and synchronous; reads only this immutable snapshot; allocates nothing.
extension PolicySnapshot {
    /// Decides for a domain name given as bytes (mixed case allowed, no trailing dot).
    @inlinable
    public func decide(
        name: UnsafeRawBufferPointer, subject: Subject, zone: Int32, at instant: Int64
    ) -> Decision {
        decide(categories: lists.categories(ofName: name), subject: subject, zone: zone, at: instant, file: nil)
    }

    /// Decides for any destination (allocates for URLs; names go through the byte path).
    public func decide(
        _ destination: Destination, subject: Subject, zone: Int32, at instant: Int64, file: FileInfo? = nil
    ) -> Decision {
        let categories: BitSet512
        switch destination {
        case .name(let name):
            if let address = IPAddress(name) {
                categories = lists.categories(ofAddress: address)
            } else {
                categories = lists.categories(ofName: name)
            }
        case .url(let host, let path):
            categories = lists.categories(ofHost: host, normalizedPath: path)
        case .address(let address):
            categories = lists.categories(ofAddress: address)
        }
        return decide(categories: categories, subject: subject, zone: zone, at: instant, file: file)
    }

    /// Decides for a destination whose categories are already known.
    public func decide(
        categories: BitSet512, subject: Subject, zone: Int32, at instant: Int64, file: FileInfo?
    ) -> Decision {
        let group = subject.primaryGroup
        switch subject.status {
        case .active: break
        case .inactive:
            return Decision(action: .block, cause: .inactive, rule: -1, categories: categories, group: group)
        case .revoked(let until, _):
            if until.map({ Int64($0.timeIntervalSince1970) > instant }) ?? true {
                return Decision(action: .block, cause: .revoked, rule: -1, categories: categories, group: group)
            }
        }
        if subject.workOnly, categories.intersects(personalUse) {
            return Decision(action: .block, cause: .workOnly, rule: -1, categories: categories, group: group)
        }
        var decision = Decision(action: defaultAction, cause: .defaultAction, rule: -1, categories: categories, group: group)
        var local: (weekday: Int, minute: Int)? = nil
        matchers.withUnsafeBufferPointer { matchers in
            for index in matchers.indices {
                if !matchers[index].anyGroup, !matchers[index].groups.intersects(subject.groups) { continue }
                if !matchers[index].anyZone, zone < 0 || !matchers[index].zones.contains(Int(zone)) { continue }
                if !matchers[index].anyDestination, !matchers[index].destinations.intersects(categories) { continue }
                if matchers[index].needsFile, !rules[index].matches(file: file) { continue }
                if matchers[index].needsClock {
                    let now = local ?? clock.local(instant)
                    local = now
                    if !scheduleHolds(rules[index], weekday: now.weekday, minute: now.minute) { continue }
                }
                // Last, since it is rare for every other condition to hold: the rule's exceptions.
                if matchers[index].hasExceptions,
                    matchers[index].exceptGroups.intersects(subject.groups)
                        || (matchers[index].exceptsPeople && rules[index].excepts(personID: subject.personID))
                {
                    if decision.exceptedRule < 0 { decision.exceptedRule = Int32(index) }
                    continue
                }
                decision.action = matchers[index].action
                decision.cause = .rule
                decision.rule = Int32(index)
                break
            }
        }
        let cipaHit = categories.intersection(cipa)
        if !cipaHit.isEmpty, decision.action != .block {
            let exempt =
                subject.isAdult && decision.cause == .rule
                && !matchers[Int(decision.rule)].anyDestination
                && matchers[Int(decision.rule)].destinations.intersects(cipaHit)
            if !exempt {
                return Decision(action: .block, cause: .cipa, rule: -1, categories: categories, group: group)
            }
        }
        return decision
    }

    /// A rule's `during` schedules (any) hold and none of its `outside` schedules does.
    func scheduleHolds(_ rule: CompiledRule, weekday: Int, minute: Int) -> Bool {
        if !rule.during.isEmpty, !rule.during.contains(where: { schedules[$0].contains(weekday: weekday, minute: minute) }) {
            return false
        }
        return !rule.outside.contains { schedules[$0].contains(weekday: weekday, minute: minute) }
    }
}
