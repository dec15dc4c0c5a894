import Foundation
import StewardTestSupport

/// A synthetic district in OneRoster 1.1 CSV: `people` users over ten schools, with enrollments,
/// written to a new folder. `movedEvery` moves every n-th student to the next school (a new year).
enum SyntheticDistrict {
    static func write(people: Int, movedEvery: Int? = nil, leaving: Int = 0) throws -> String {
        let directory = TestDirectory.root.appendingPathComponent("district-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func save(_ name: String, _ text: String) throws {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try save(
            "manifest.csv",
            "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,bulk\n"
                + "file.enrollments,bulk\nfile.academicSessions,absent\nfile.classes,absent\n")
        var orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\ndistrict,,,Synthetic District,district,SD,\n"
        for school in 0..<10 { orgs += "school-\(school),,,School \(school),school,sch-\(school),district\n" }
        try save("orgs.csv", orgs)
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        var enrollments = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        users.reserveCapacity(people * 160)
        for index in leaving..<people {
            let teacher = index % 20 == 0
            var school = index % 10
            if let movedEvery, !teacher, index % movedEvery == 0 { school = (school + 1) % 10 }
            let grade = String(format: "%02d", index % 12 + 1)
            users += "p-\(index),,,true,school-\(school),\(teacher ? "teacher" : "student"),user\(index),,Given\(index),Family\(index),,\(100000 + index),user\(index)@sd.example,,,,\(teacher ? "" : grade),\n"
            if index % 50 == 0 {
                enrollments += "e-\(index),,,class-\(school),school-\(school),p-\(index),\(teacher ? "teacher" : "student"),true,2026-08-27,2027-06-15\n"
            }
        }
        try save("users.csv", users)
        try save("enrollments.csv", enrollments)
        return directory.path
    }
}
