/// RFC 4180 CSV: quoted fields with doubled quotes, commas and line breaks inside quotes, CRLF or
/// LF line ends, a UTF-8 byte-order mark. Each record carries the line it started on.
struct CSVReader {
    struct Record {
        let line: Int
        let fields: [String]
    }

    enum Problem: Error, Equatable {
        case unterminatedQuote(line: Int)
        case textAfterQuote(line: Int, column: Int)
    }

    static func records(_ text: String) throws(Problem) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var afterQuote = false
        var line = 1
        var recordLine = 1
        var column = 1
        var scalars = text.unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endRecord() {
            fields.append(field)
            field = ""
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields = []
        }
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            field.unicodeScalars.append("\"")
                        } else {
                            inQuotes = false
                            afterQuote = true
                            pending = next
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                column += 1
                continue
            }
            switch scalar {
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
                column += 1
            case "\r":
                continue
            case "\n":
                endRecord()
                afterQuote = false
                line += 1
                recordLine = line
                column = 1
            case "\"" where field.isEmpty && !afterQuote:
                inQuotes = true
                column += 1
            default:
                if afterQuote { throw .textAfterQuote(line: line, column: column) }
                field.unicodeScalars.append(scalar)
                column += 1
            }
        }
        if inQuotes { throw .unterminatedQuote(line: recordLine) }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
